//! Subcommands. Each returns an exit code; errors are reported with their context by main.

mod args;
mod demo;
mod healthcheck;
mod import;
mod record;
mod run;
mod simulate;
mod status;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use args::parse_duration;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ecs-autoscaler",
    version,
    about = "Keeps an AWS ECS service at the right size"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole system on this machine: the daemon scales real search-service replicas
    /// (local backend) under a load plan, shows what it does, and ends with a report.
    Demo {
        /// How long the default plan runs.
        #[arg(long, default_value = "2m", value_parser = parse_duration)]
        duration: std::time::Duration,
        /// Load plan, e.g. "100 for 20s, 400 for 60s, 100 for 40s": requests per second
        /// (users with --load users).
        #[arg(long)]
        plan: Option<String>,
        /// bursts: open loop, each second's requests arriving in its first --burst;
        /// rate: open loop, evenly spread; users: closed-loop users who think --think-time.
        #[arg(long, value_enum, default_value = "bursts")]
        load: demo::Load,
        /// With --load bursts: the part of each second its requests arrive in.
        #[arg(long, default_value = "250ms", value_parser = parse_duration)]
        burst: std::time::Duration,
        /// Closed-loop users' think time between answer and next request.
        #[arg(long, default_value = "10ms", value_parser = parse_duration)]
        think_time: std::time::Duration,
        /// SIGKILL one replica at this time into the run.
        #[arg(long, value_parser = parse_duration)]
        kill_replica_at: Option<std::time::Duration>,
        /// CPU each search costs a replica: emulates a small task so scaling shows here.
        #[arg(long, default_value = "1ms", value_parser = parse_duration)]
        search_cost: std::time::Duration,
        /// Before the run, measure what one replica serves within the SLO: the same load at
        /// rising rates on a single replica, no autoscaler (about a minute). The summary
        /// then sets the knee the policy learned beside it, and the replica-seconds used
        /// beside the fewest that hold the SLO.
        #[arg(long)]
        calibrate: bool,
        /// Where the report (report.html, summary.json) goes.
        #[arg(long, default_value = "demo-report")]
        out: PathBuf,
        /// Print the summary, timeline and decisions as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the daemon: evaluate every policy on its interval and serve the status API.
    /// Settings come from --config and ECS_AUTOSCALER_* environment variables.
    Run {
        /// Settings file (TOML).
        #[arg(long, env = "ECS_AUTOSCALER_CONFIG")]
        config: Option<PathBuf>,
        /// Evaluate every policy once, print the decisions and exit.
        #[arg(long)]
        once: bool,
        /// With --once: print decisions as JSON lines.
        #[arg(long, requires = "once")]
        json: bool,
    },
    /// Check policy files (or directories of them); exit 1 with diagnostics if any is bad.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Backtest a policy on a scenario in virtual time, optionally against AWS target tracking
    /// and the oracle. With no arguments: the latency policy on the original experiment.
    Simulate {
        /// Policy file (default: the shipped latency-slo policy).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Scenario file (default: the original experiment).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Also run these for comparison (repeatable).
        #[arg(long, value_enum)]
        compare: Vec<autoscaler_sim::Comparison>,
        /// Print the summaries and scaling actions as JSON.
        #[arg(long)]
        json: bool,
        /// Write CSV timelines, summary.json and chart.html here (with --families: every
        /// member as a scenario file).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run over these seeds (`1..20`, inclusive), every scaler on the same traffic per
        /// seed, and print median and p90 of every figure with the policy's paired win rate.
        #[arg(long)]
        seeds: Option<String>,
        /// Run every family of this file (scenarios/families.toml) over the seeds (default
        /// 1..10) against every comparison, and print one table.
        #[arg(long, conflicts_with_all = ["scenario", "traffic"])]
        families: Option<PathBuf>,
        /// Replay recorded traffic (the CSV `record` writes) on the service model of
        /// --scenario (default: the original experiment's), and show what actually happened
        /// next to each scaler.
        #[arg(long)]
        traffic: Option<PathBuf>,
        /// Replay AWS's own scaler beside the policy: the `<service>.aws.json` `import`
        /// writes. Prints, and with --out writes as migration.html, the per-day report.
        #[arg(long, conflicts_with_all = ["families", "seeds"])]
        aws: Option<PathBuf>,
        /// vCPU of one task, for the report's Fargate cost.
        #[arg(long, default_value_t = 0.5, value_parser = positive)]
        task_vcpu: f64,
        /// Memory of one task in GB, for the report's Fargate cost.
        #[arg(long, default_value_t = 1.0, value_parser = positive)]
        task_memory_gb: f64,
    },
    /// Record a service's past load from CloudWatch, one row per minute (requests, CPU,
    /// desired and running counts), for `simulate --traffic`.
    Record(record::Args),
    /// Writes the policy closest to what AWS Application Auto Scaling does for a service,
    /// and AWS's configuration beside it for `simulate --aws`.
    Import(import::Args),
    /// Run one search-service replica (the local backend starts these).
    #[command(hide = true)]
    Replica {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Print the JSON Schema of policy files.
    Schema,
    /// Probe an HTTP health endpoint; exit 0 if it answers 2xx (for container health checks).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:9090/healthz")]
        url: String,
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
    /// Print what the daemon's status page shows, as text (for a shell that reaches only
    /// the daemon's port)
    Status {
        /// The daemon's status API.
        #[arg(long, default_value = "http://127.0.0.1:9090")]
        url: String,
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { paths } => validate::run(&paths),
        Command::Demo {
            duration,
            plan,
            load,
            burst,
            think_time,
            kill_replica_at,
            search_cost,
            calibrate,
            out,
            json,
        } => demo::run(demo::Args {
            duration,
            plan,
            load,
            burst,
            think: think_time,
            kill_replica_at,
            search_cost,
            calibrate,
            out,
            json,
        }),
        Command::Run { config, once, json } => run::run(run::Args { config, once, json }),
        Command::Simulate {
            policy,
            scenario,
            compare,
            json,
            out,
            seeds,
            families,
            traffic,
            aws,
            task_vcpu,
            task_memory_gb,
        } => simulate::run(simulate::Args {
            policy,
            scenario,
            compare,
            json,
            out,
            seeds,
            families,
            traffic,
            aws,
            task_size: autoscaler_sim::migration::TaskSize {
                vcpu: task_vcpu,
                memory_gb: task_memory_gb,
            },
        }),
        Command::Replica { args } => {
            let argv = std::iter::once(std::ffi::OsString::from("search-service")).chain(args);
            let config = <search_service::config::Config as clap::Parser>::try_parse_from(argv)?;
            Ok(search_service::main_with(config))
        }
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&autoscaler_core::policy::file::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck { url, timeout } => Ok(healthcheck::run(&url, timeout)),
        Command::Record(args) => record::run(args),
        Command::Import(args) => import::run(args),
        Command::Status { url, timeout } => status::run(&url, timeout),
    }
}

/// A size or a price: a finite number above zero.
fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} is not above zero")),
        Err(e) => Err(format!("{s:?} is not a number: {e}")),
    }
}
