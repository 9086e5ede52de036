use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use autoscaler_core::policy::Backend;
use autoscaler_sim as sim;
use ecs_autoscaler::api;
#[cfg(feature = "aws")]
use ecs_autoscaler::backend::aws::{AwsBackend, sdk_config};
use ecs_autoscaler::backend::local::LocalBackend;
use ecs_autoscaler::backend::sim::SimBackend;
use ecs_autoscaler::backend::{CapacityTarget, Clock, MetricSource, ScaledClock, SystemClock};
use ecs_autoscaler::daemon::Daemon;
#[cfg(feature = "aws")]
use ecs_autoscaler::daemon::{dynamodb, leadership::Leadership};
use ecs_autoscaler::settings::{LogFormat, Settings};
use tokio::signal::unix::{SignalKind, signal};

pub struct Args {
    pub config: Option<PathBuf>,
    pub once: bool,
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(args.config.as_deref())?;
    init_logging(settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match settings.backend {
            Backend::Sim => {
                let scenario = match &settings.sim_scenario {
                    Some(p) => sim::scenario::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
                    None => sim::scenario::default_scenario(),
                };
                let joins_at = ecs_autoscaler::backend::sim::joins_at(&scenario);
                let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(joins_at, settings.sim_speed));
                let backend = Arc::new(SimBackend::new(scenario, Arc::clone(&clock)));
                serve(settings, backend, clock, args.once, args.json).await
            }
            #[cfg(feature = "aws")]
            Backend::Aws => {
                let backend = Arc::new(AwsBackend::connect(&settings.aws).await);
                serve(settings, backend, Arc::new(SystemClock), args.once, args.json).await
            }
            // Refused by the settings in a build without the AWS SDK.
            #[cfg(not(feature = "aws"))]
            Backend::Aws => anyhow::bail!("the aws backend needs a build with the default features"),
            Backend::Local => {
                let backend = Arc::new(LocalBackend::start(settings.local.clone()));
                let result = serve(
                    settings,
                    Arc::clone(&backend),
                    Arc::new(SystemClock),
                    args.once,
                    args.json,
                )
                .await;
                backend.shutdown().await;
                result
            }
        }
    })
}

async fn serve<B: MetricSource + CapacityTarget>(
    settings: Settings,
    backend: Arc<B>,
    clock: Arc<dyn Clock>,
    once: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let listen = settings.listen;
    let daemon = open(settings, backend, clock).await?;
    attach_events(&daemon).await;
    daemon.start().await?;
    if once {
        return once_and_exit(&daemon, json).await;
    }

    let listener =
        hardened_http::bind(listen, false, 128).with_context(|| format!("binding the status API to {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "status API listening");
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let api = tokio::spawn(api::serve(listener, daemon.shared(), async move {
        let _ = api_stopped.await;
    }));

    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let shared = daemon.shared();
    let reload_on_hangup = async move {
        while hangup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading policies");
            shared.request_reload();
        }
    };
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: finishing the round in flight"),
            _ = interrupt.recv() => tracing::info!("SIGINT: finishing the round in flight"),
        }
    };
    tokio::select! {
        _ = daemon.run(shutdown) => {}
        _ = reload_on_hangup => {}
    }
    let _ = stop_api.send(());
    let _ = api.await;
    Ok(ExitCode::SUCCESS)
}

/// Scaling events to EventBridge, when `[events]` names a bus.
#[cfg(feature = "aws")]
async fn attach_events<B: MetricSource + CapacityTarget>(daemon: &Daemon<B>) {
    let shared = daemon.shared();
    let Some(e) = &shared.settings.events else { return };
    let client = aws_sdk_eventbridge::Client::new(&sdk_config(&shared.settings.aws).await);
    let sink = ecs_autoscaler::backend::aws::events::EventBridge::new(client, e.bus.clone(), e.source.clone());
    shared.events.attach(Arc::new(sink), shared.settings.aws.call_budget());
}

/// Settings refuse `[events]` in a build without the AWS SDK.
#[cfg(not(feature = "aws"))]
async fn attach_events<B: MetricSource + CapacityTarget>(_: &Daemon<B>) {}

/// The daemon with its state store: a file, or DynamoDB with a lease shared by every
/// daemon of the deployment.
#[cfg(not(feature = "aws"))]
async fn open<B: MetricSource + CapacityTarget>(
    settings: Settings,
    backend: Arc<B>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Daemon<B>> {
    Ok(Daemon::new(settings, backend, clock))
}

/// The daemon with its state store: a file, or DynamoDB with a lease shared by every
/// daemon of the deployment.
#[cfg(feature = "aws")]
async fn open<B: MetricSource + CapacityTarget>(
    settings: Settings,
    backend: Arc<B>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Daemon<B>> {
    let Some(d) = settings.dynamodb.clone() else {
        return Ok(Daemon::new(settings, backend, clock));
    };
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(&settings.aws).await);
    let table = dynamodb::Table {
        table: d.table,
        name: d.name,
        journal_ttl: d.journal_ttl,
    };
    let store = dynamodb::DynamoStore::new(client.clone(), table.clone(), settings.journal_size)
        .context("starting the DynamoDB state store")?;
    let lease = Leadership::new(
        Box::new(dynamodb::DynamoLease::new(client, table)),
        d.instance_id.clone(),
        d.lease_ttl,
    );
    tracing::info!(instance = %d.instance_id, lease = %lease.describe(), "state in DynamoDB; acting only while holding the lease");
    Ok(Daemon::with_leadership(
        settings,
        backend,
        clock,
        Arc::new(store),
        Some(Arc::new(lease)),
    ))
}

/// `run --once`: evaluates every policy now and prints each decision. Exit 0 when every
/// policy was evaluated, 1 when some were not (or some files were rejected), 2 when
/// nothing was: no policy in force, or no target could be read.
async fn once_and_exit<B: MetricSource + CapacityTarget>(daemon: &Daemon<B>, json: bool) -> anyhow::Result<ExitCode> {
    let shared = daemon.shared();
    let (loaded, rejected) = {
        let reg = shared.registry();
        let rejected: Vec<String> = reg
            .rejected()
            .values()
            .cloned()
            .chain(
                reg.policies()
                    .values()
                    .filter_map(|e| e.load_error().map(str::to_string)),
            )
            .collect();
        (reg.policies().len(), rejected)
    };
    for r in &rejected {
        eprintln!("{r}");
    }
    for (file, why) in shared.registry().skipped() {
        eprintln!("skipped {}: {why}", file.display());
    }
    if loaded == 0 {
        eprintln!(
            "error: no policy in force in {}: nothing evaluated",
            shared.settings.policies
        );
        return Ok(ExitCode::from(2));
    }
    let entries = daemon.evaluate_all().await;
    for entry in &entries {
        if json {
            println!("{}", serde_json::to_string(entry)?);
        } else {
            println!("{}: {}", entry.decision.policy, entry.explanation);
        }
    }
    let failed: Vec<(String, String)> = {
        let reg = shared.registry();
        reg.policies()
            .iter()
            .filter(|(n, _)| !entries.iter().any(|e| &e.decision.policy == *n))
            .map(|(n, e)| (n.clone(), e.last_error().unwrap_or("not evaluated").to_string()))
            .collect()
    };
    for (name, why) in &failed {
        eprintln!("error: {name}: {why}");
    }
    Ok(if entries.is_empty() {
        eprintln!("error: no policy could be evaluated");
        ExitCode::from(2)
    } else if !failed.is_empty() || !rejected.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
