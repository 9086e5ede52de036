use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(feature = "aws")]
use anyhow::Context;
#[cfg(feature = "aws")]
use autoscaler_sim::replay;
#[cfg(feature = "aws")]
use ecs_autoscaler::backend::aws::record::{self, Recording, Requests};
#[cfg(feature = "aws")]
use ecs_autoscaler::backend::aws::sdk_config;
#[cfg(feature = "aws")]
use ecs_autoscaler::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub cluster: String,
    #[arg(long)]
    pub service: String,
    /// How far back (at most 15d, CloudWatch's one-minute retention).
    #[arg(long, default_value = "14d", value_parser = crate::cli::args::parse_duration)]
    pub since: std::time::Duration,
    /// One row per this much time (a multiple of 60s); requests are written per minute.
    #[arg(long, default_value = "60s", value_parser = crate::cli::args::parse_duration)]
    pub period: std::time::Duration,
    /// Count requests at the ALB: CloudWatch's TargetGroup dimension (with --load-balancer).
    #[arg(long)]
    pub target_group: Option<String>,
    /// CloudWatch's LoadBalancer dimension (with --target-group).
    #[arg(long)]
    pub load_balancer: Option<String>,
    /// Without the ALB: the service's own per-task count, summed over its tasks.
    #[arg(long, default_value = "SearchService")]
    pub namespace: String,
    #[arg(long, default_value = "ArrivalCount")]
    pub metric_name: String,
    /// A dimension of that metric, `Name=Value` (repeatable).
    #[arg(long = "dimension", default_value = "Service=search")]
    pub dimensions: Vec<String>,
    #[arg(long, default_value = "traffic.csv")]
    pub out: PathBuf,
}

/// Reads the service's last `since` of load from CloudWatch, one row per minute, and
/// writes the CSV `simulate --traffic` replays. AWS settings (region, endpoint, timeouts)
/// are the daemon's (`ECS_AUTOSCALER_AWS__*`, the standard credential chain).
#[cfg(not(feature = "aws"))]
pub fn run(_: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "record reads CloudWatch through the AWS SDK, and this binary was built without it (--no-default-features): build it with the default features"
    )
}

#[cfg(feature = "aws")]
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let requests = match (args.target_group, args.load_balancer) {
        (Some(target_group), Some(load_balancer)) => Requests::Alb {
            target_group,
            load_balancer,
        },
        (None, None) => Requests::Own {
            namespace: args.namespace,
            metric_name: args.metric_name,
            dimensions: args
                .dimensions
                .iter()
                .map(|d| {
                    d.split_once('=')
                        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                        .ok_or_else(|| anyhow::anyhow!("--dimension \"{d}\" must look like Service=search"))
                })
                .collect::<anyhow::Result<_>>()?,
        },
        _ => anyhow::bail!("--target-group and --load-balancer go together (CloudWatch's ALB dimensions)"),
    };
    if args.since > std::time::Duration::from_secs(15 * 86_400) {
        anyhow::bail!("--since is at most 15d: CloudWatch keeps one-minute datapoints for 15 days");
    }
    let settings = Settings::load(None)?;
    let end = chrono::Utc::now();
    let recording = Recording {
        cluster: args.cluster,
        service: args.service,
        requests,
        start: end - chrono::Duration::from_std(args.since).context("--since")?,
        end,
        period: args.period.as_secs() as i64,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (minutes, calls) = runtime
        .block_on(async {
            let config = sdk_config(&settings.aws).await;
            record::record(&aws_sdk_cloudwatch::Client::new(&config), &recording).await
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let file = std::fs::File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    replay::write(std::io::BufWriter::new(file), &minutes)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let with_requests = minutes.iter().filter(|m| m.requests > 0.0).count();
    eprintln!(
        "wrote {}: {} rows of {}s ({} with requests), {} GetMetricData call(s), {} datapoints",
        args.out.display(),
        minutes.len(),
        recording.period,
        with_requests,
        calls.get_metric_data,
        calls.datapoints
    );
    Ok(ExitCode::SUCCESS)
}
