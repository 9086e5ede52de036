use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ecs_autoscaler::policy::{self, Policy};
use ecs_autoscaler::sim::{self, Comparison, PolicyScaler, Scaler, Scenario, report};
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
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let policy: Policy = match &args.policy {
        Some(p) => policy::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => policy::parse(Path::new(DEFAULT_POLICY.0), DEFAULT_POLICY.1).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let scenario: Scenario = match &args.scenario {
        Some(s) => sim::scenario::load(s).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => sim::scenario::default_scenario(),
    };
    let compare = if args.compare.is_empty() && args.policy.is_none() && args.scenario.is_none() {
        vec![Comparison::AwsTargetTracking, Comparison::Oracle]
    } else {
        args.compare.clone()
    };

    let mut scalers: Vec<Box<dyn Scaler>> = vec![Box::new(PolicyScaler::new(policy.clone(), &scenario))];
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

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&scenario, &runs))?);
    } else {
        print!("{}", report::table(&scenario, &runs));
    }
    if let Some(dir) = &args.out {
        let written = report::write_dir(dir, &scenario, &runs).with_context(|| format!("writing {}", dir.display()))?;
        if !args.json {
            for w in written {
                println!("wrote {}", w.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
