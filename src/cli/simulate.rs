use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use autoscaler_core::migrate::scaling::AwsScaling;
use autoscaler_core::policy::{self, Policy};
use autoscaler_sim::imported::ImportedAws;
use autoscaler_sim::{
    self as sim, Comparison, PolicyScaler, Scaler, Scenario, families, migration, replay, report, seeds,
};
use indicatif::{ProgressBar, ProgressStyle};

/// Embedded defaults, so `ecs-autoscaler simulate` works from any directory.
const DEFAULT_POLICY: (&str, &str) = (
    "policies/latency-slo.toml",
    include_str!("../../policies/latency-slo.toml"),
);

pub struct Args {
    pub policy: Option<PathBuf>,
    pub scenario: Option<PathBuf>,
    pub compare: Vec<Comparison>,
    pub json: bool,
    pub out: Option<PathBuf>,
    pub seeds: Option<String>,
    pub families: Option<PathBuf>,
    pub traffic: Option<PathBuf>,
    pub aws: Option<PathBuf>,
    pub task_size: migration::TaskSize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let policy: Policy = match &args.policy {
        Some(p) => policy::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => policy::parse(Path::new(DEFAULT_POLICY.0), DEFAULT_POLICY.1).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    if let Some(file) = &args.families {
        return families(&args, policy, file);
    }
    let base: Scenario = match &args.scenario {
        Some(s) => sim::scenario::load(s).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => sim::scenario::default_scenario(),
    };
    let recording = match &args.traffic {
        Some(path) => Some(replay::read(path).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let scenario = recording.as_ref().map_or(base.clone(), |r| r.scenario(&base));
    let compare = if args.compare.is_empty() && args.policy.is_none() && args.scenario.is_none() && args.aws.is_none() {
        Comparison::ALL.to_vec()
    } else {
        args.compare.clone()
    };

    if let Some(seeds) = &args.seeds {
        let seeds = seeds::parse_range(seeds).map_err(|e| anyhow::anyhow!("--seeds: {e}"))?;
        let make = |seed| Scenario {
            seed,
            ..scenario.clone()
        };
        let paired = seeds::run(&scenario.name, &policy, &compare, seeds, &make);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&paired)?);
        } else {
            print!("{}", paired.table());
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut scalers: Vec<Box<dyn Scaler>> = vec![Box::new(PolicyScaler::new(policy.clone(), &scenario))];
    let mut left_out = Vec::new();
    if let Some(path) = &args.aws {
        let imported =
            ImportedAws::new(&read_aws(path)?, &scenario).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        left_out = imported.left_out().to_vec();
        scalers.push(Box::new(imported));
    }
    scalers.extend(compare.iter().map(|c| c.scaler(&policy, &scenario)));

    let show_progress = scenario.duration >= 3600 && !args.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut runs = Vec::new();
    for scaler in &mut scalers {
        let bar = if show_progress {
            ProgressBar::new(scenario.duration)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{msg:>22} [{bar:40}] {pos}/{len} s")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(scaler.name());
        let run = sim::run(&scenario, scaler.as_mut(), &mut |t| {
            if t % 600 == 0 {
                bar.set_position(t);
            }
        });
        bar.finish_and_clear();
        runs.push(run);
    }

    let actual = recording.as_ref().map(replay::Recording::actual);
    let migration = args.aws.is_some().then(|| migration::Migration {
        scenario: &scenario,
        runs: &runs,
        size: args.task_size,
        left_out: &left_out,
        recording: recording.as_ref(),
    });
    if args.json {
        let mut json = serde_json::to_value(report::json(&scenario, &runs))?;
        if let Some(a) = &actual {
            json["recorded"] = serde_json::to_value(a)?;
        }
        if let Some(m) = &migration {
            json["per_day"] = serde_json::to_value(m.per_day())?;
            json["aws_left_out"] = serde_json::to_value(&left_out)?;
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", report::table(&scenario, &runs));
        if let Some(a) = &actual {
            println!(
                "what actually happened (recorded): task-seconds {:.0}, scale-outs / scale-ins {} / {}, max tasks {}, mean CPU % {}",
                a.task_seconds,
                a.scale_outs,
                a.scale_ins,
                a.max_tasks,
                a.mean_cpu.map_or("-".into(), |c| format!("{c:.1}"))
            );
        }
    }
    if let Some(m) = &migration
        && !args.json
    {
        println!("\nper day (UTC):\n{}", m.table());
        for n in &left_out {
            println!("left out of the AWS replay: {n}");
        }
    }
    if let Some(dir) = &args.out {
        let mut written =
            report::write_dir(dir, &scenario, &runs).with_context(|| format!("writing {}", dir.display()))?;
        if let Some(m) = &migration {
            let path = dir.join("migration.html");
            std::fs::write(&path, m.html().map_err(|e| anyhow::anyhow!(e))?)
                .with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
        if !args.json {
            for w in written {
                println!("wrote {}", w.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// AWS's configuration as `import` wrote it beside the policy.
fn read_aws(path: &Path) -> anyhow::Result<AwsScaling> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not the AWS configuration `ecs-autoscaler import` writes (<service>.aws.json)",
            path.display()
        )
    })
}

/// Every family over paired seeds against every comparison: one table, and the goals
/// checked per family.
fn families(args: &Args, mut policy: Policy, file: &Path) -> anyhow::Result<ExitCode> {
    let set = families::load(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let seeds =
        seeds::parse_range(args.seeds.as_deref().unwrap_or("1..10")).map_err(|e| anyhow::anyhow!("--seeds: {e}"))?;
    let compare = if args.compare.is_empty() {
        Comparison::ALL.to_vec()
    } else {
        args.compare.clone()
    };
    // Bounds must not decide a comparison: every scaler gets the same, wide ones.
    policy.max = policy.max.max(set.max_tasks);
    let mut all = Vec::new();
    if let Some(dir) = &args.out {
        // Every member as a scenario file, to re-run or study one on its own.
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for family in &set.families {
            for seed in seeds.clone() {
                let path = dir.join(format!("{}-{seed}.toml", family.name));
                std::fs::write(&path, family.generate(seed)).with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    let mut predicting = Vec::new();
    for family in &set.families {
        let make = |seed| family.scenario(seed);
        let paired = seeds::run(&family.name, &policy, &compare, seeds.clone(), &make);
        if !args.json {
            println!("{}", paired.table());
        }
        if let Some(goal) = family.goal {
            predicting.push((paired.clone(), goal));
        }
        all.push(paired);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else if !predicting.is_empty() {
        print!("{}", autoscaler_sim::prediction::goals(&predicting));
    } else {
        print!("{}", seeds::goals(&all));
        println!("\nthe policy's learned knee against the true one, at the end of each member");
        print!("{}", seeds::knees(&all));
    }
    Ok(ExitCode::SUCCESS)
}
