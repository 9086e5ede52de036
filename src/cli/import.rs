use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(feature = "aws")]
use anyhow::Context;

/// Writes the policy closest to what AWS Application Auto Scaling does for a service (its
/// scalable target, target-tracking, step and predictive policies, scheduled actions),
/// with a comment for everything that has no exact equivalent, and AWS's configuration
/// as read beside it (`<out>.aws.json`), which `simulate --aws` replays as AWS would scale.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub cluster: String,
    #[arg(long)]
    pub service: String,
    /// The policy file to write; default policies/<service>.toml.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[cfg(not(feature = "aws"))]
pub fn run(_: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "import reads Application Auto Scaling through the AWS SDK, and this binary was built without it (--no-default-features): build it with the default features"
    )
}

#[cfg(feature = "aws")]
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    use autoscaler_core::migrate::import;
    use ecs_autoscaler::backend::aws::{app_scaling, sdk_config};
    use ecs_autoscaler::settings::Settings;

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("policies").join(format!("{}.toml", args.service)));
    let aws_out = aws_path(&out);
    for path in [&out, &aws_out] {
        if path.exists() && !args.force {
            anyhow::bail!("{} exists: pass --force to replace it", path.display());
        }
    }
    let settings = Settings::load(None)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let scaling = runtime
        .block_on(async {
            let config = sdk_config(&settings.aws).await;
            let client = aws_sdk_applicationautoscaling::Client::new(&config);
            let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
            app_scaling::read(&client, Some(&cloudwatch), &args.cluster, &args.service).await
        })
        .map_err(|e| anyhow::anyhow!("reading Application Auto Scaling: {e}"))?;
    // The region only if one was configured: a policy in the daemon's region needs none.
    let text = import::policy_text(&args.cluster, &args.service, settings.aws.region.as_deref(), &scaling);
    // What is written must load: a file the daemon would reject is no import.
    autoscaler_core::policy::parse(&out, &text)
        .map_err(|e| anyhow::anyhow!("the imported policy does not validate (a bug): {e}"))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
    let json = serde_json::to_string_pretty(&scaling)?;
    std::fs::write(&aws_out, json + "\n").with_context(|| format!("writing {}", aws_out.display()))?;
    let notes = text
        .lines()
        .filter(|l| l.contains("NOTE") || l.starts_with("# - "))
        .count();
    eprintln!(
        "wrote {} ({} AWS polic(ies), {} scheduled action(s), {} note(s) to review) and {}",
        out.display(),
        scaling.policies.len(),
        scaling.scheduled.len(),
        notes,
        aws_out.display()
    );
    if scaling.target.is_none() {
        eprintln!(
            "note: {} is not registered with Application Auto Scaling",
            scaling.resource_id
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `policies/search.toml` → `policies/search.aws.json`.
#[cfg(feature = "aws")]
fn aws_path(out: &std::path::Path) -> PathBuf {
    out.with_extension("aws.json")
}
