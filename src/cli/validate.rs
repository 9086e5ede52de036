use std::path::PathBuf;
use std::process::ExitCode;

use ecs_autoscaler::policy;

/// Prints a summary line per good file and every diagnostic of the bad ones.
pub fn run(paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut bad = 0usize;
    let mut good = 0usize;
    for path in paths {
        let files = match policy::files_in(path) {
            Ok(files) => files,
            Err(e) => {
                eprintln!("{}:1:1: cannot read directory: {e}", path.display());
                bad += 1;
                continue;
            }
        };
        if files.is_empty() {
            eprintln!("{}:1:1: no *.toml policy files here", path.display());
            bad += 1;
        }
        for file in files {
            match policy::load(&file) {
                Ok(p) => {
                    good += 1;
                    println!("ok   {}: {}", file.display(), p.summary());
                }
                Err(errors) => {
                    bad += 1;
                    eprintln!("{errors}");
                }
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} file(s) rejected, {good} ok");
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
