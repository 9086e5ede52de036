//! `promtool check metrics` on a Prometheus exposition, for the daemon's and the search
//! service's metrics tests (the service's includes this file by path). CI installs
//! promtool and sets REQUIRE_PROMTOOL, so there a missing promtool fails rather than
//! skips; elsewhere the test says it did not lint.

use std::io::Write;
use std::process::{Command, Stdio};

/// Panics unless promtool finds nothing to say about `text`.
pub fn lint(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    match child {
        Ok(mut child) => {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            let report = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && report.trim().is_empty(), "promtool: {report}");
        }
        Err(e) if std::env::var_os("REQUIRE_PROMTOOL").is_some() => {
            panic!("promtool is required here and could not be run: {e}")
        }
        Err(e) => eprintln!("promtool not run ({e}): the exposition was checked, not linted"),
    }
}
