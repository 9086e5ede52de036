//! Replica processes: how one is started (this binary's hidden `replica` subcommand, or a
//! configured search-service binary), signalled and measured from outside.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::settings::LocalSettings;

/// A request to the spawner thread.
pub(super) struct SpawnJob {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub reply: tokio::sync::oneshot::Sender<std::io::Result<Child>>,
}

/// The thread that starts every replica. PR_SET_PDEATHSIG fires when the *thread* that
/// forked the child exits, so it must be one that lives as long as the process: replicas
/// then die with the daemon even if it crashes.
pub(super) fn spawner_thread() -> std::sync::mpsc::Sender<SpawnJob> {
    let (tx, rx) = std::sync::mpsc::channel::<SpawnJob>();
    std::thread::Builder::new()
        .name("replica-spawner".into())
        .spawn(move || {
            for job in rx {
                let mut cmd = Command::new(&job.program);
                cmd.args(&job.args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .env("RUST_LOG", "warn");
                // Own process group: a Ctrl-C in the terminal reaches the daemon, which
                // then drains the replicas itself.
                cmd.process_group(0);
                // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
                unsafe {
                    cmd.pre_exec(|| {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                let _ = job.reply.send(cmd.spawn());
            }
        })
        .unwrap_or_else(|e| panic!("cannot start the replica spawner thread: {e}"));
    tx
}

/// The program and arguments of one replica listening on the pool's shared port, with
/// its own admin address for readiness and metrics.
pub(super) fn command(settings: &LocalSettings, admin: SocketAddr) -> (PathBuf, Vec<OsString>) {
    let (program, mut args): (PathBuf, Vec<OsString>) = match &settings.binary {
        Some(b) => (b.clone(), vec![]),
        None => (
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ecs-autoscaler")),
            vec!["replica".into()],
        ),
    };
    let flags = [
        format!("--listen=127.0.0.1:{}", settings.port),
        "--reuse-port".into(),
        format!("--admin-listen={admin}"),
        format!("--workers={}", settings.workers),
        format!("--catalog-size={}", settings.catalog_size),
        format!("--search-cost={}us", settings.search_cost.as_micros()),
        format!("--shutdown-deadline={}s", settings.drain_deadline.as_secs().max(1)),
        "--drain-grace=500ms".into(),
        "--log-format=json".into(),
    ];
    args.extend(flags.into_iter().map(OsString::from));
    (program, args)
}

pub(super) fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a PID of a child we started and have not yet reaped.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

pub(super) fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A process's resident memory, from /proc; 0 when it cannot be read.
pub(super) fn rss_bytes(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb * 1024.0)
}

/// Asks the kernel to hand a closing replica's queued connections to the others
/// (net.ipv4.tcp_migrate_req), so a scale-in resets no connection.
pub(super) fn enable_request_migration() {
    const KNOB: &str = "/proc/sys/net/ipv4/tcp_migrate_req";
    match std::fs::read_to_string(KNOB).map(|v| v.trim().to_string()) {
        Ok(v) if v == "1" => {}
        Ok(_) => match std::fs::write(KNOB, "1") {
            Ok(()) => tracing::info!(
                "enabled net.ipv4.tcp_migrate_req: a stopping replica hands queued connections to the others"
            ),
            Err(e) => tracing::warn!(
                "cannot enable net.ipv4.tcp_migrate_req ({e}): a scale-in may reset connections queued on the stopping replica"
            ),
        },
        Err(e) => tracing::warn!("net.ipv4.tcp_migrate_req unavailable ({e}): a scale-in may reset queued connections"),
    }
}
