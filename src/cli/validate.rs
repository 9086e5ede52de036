use std::path::PathBuf;
use std::process::ExitCode;

use autoscaler_core::policy;
use ecs_autoscaler::daemon::registry::Registry;
use ecs_autoscaler::daemon::source::{PolicySource, read_capped};

/// Checks files and directories exactly as the daemon would load them together: each
/// file on its own, then the rules across files (one policy per target, unique names,
/// the per-round query cap). Prints a summary line per good file and every diagnostic
/// of the bad ones. Exit 0 all good, 1 some rejected, 2 a path that cannot be read.
pub fn run(paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut unreadable = 0usize;
    let mut sources = Vec::new();
    for path in paths {
        if !path.exists() {
            eprintln!("{}:1:1: no such file or directory", path.display());
            unreadable += 1;
            continue;
        }
        let files = match policy::files_in(path) {
            Ok(files) => files,
            Err(e) => {
                eprintln!("{}:1:1: cannot read directory: {e}", path.display());
                unreadable += 1;
                continue;
            }
        };
        if files.is_empty() {
            eprintln!("{}:1:1: no *.toml policy files here", path.display());
            unreadable += 1;
        }
        for file in files {
            let content = read_capped(&file);
            sources.push(PolicySource { path: file, content });
        }
    }
    let mut registry = Registry::default();
    let report = registry.apply(sources, false, chrono::Utc::now());
    let mut good: Vec<_> = registry.policies().values().collect();
    good.sort_by(|a, b| a.file().cmp(b.file()));
    for entry in &good {
        println!("ok   {}: {}", entry.file().display(), entry.policy().summary());
    }
    for (_, errors) in &report.rejected {
        eprintln!("{errors}");
    }
    let bad = report.rejected.len();
    if bad > 0 {
        eprintln!("{bad} file(s) rejected, {} ok", good.len());
    }
    Ok(if unreadable > 0 {
        ExitCode::from(2)
    } else if bad > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
