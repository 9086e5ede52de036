//! Headless Chromium, driven from the tests: a page's DOM after the browser has parsed and
//! rendered it, the messages it logged to the console, and a screenshot.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The browser: `$CHROMIUM` if set, else the first of the usual names on PATH.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the browser tests need headless Chromium: `apt-get install chromium` on Debian \
         (or set CHROMIUM to a Chrome or Chromium binary)"
    );
}

/// What the browser made of a page.
pub struct Rendered {
    /// The DOM after parsing and rendering, serialized.
    pub dom: String,
    /// Console messages (errors, warnings, logs) the page produced.
    pub console: Vec<String>,
}

/// Runs the browser with `args` on `url`, killing it (by PID) after 60 s.
fn chromium(url: &str, args: &[String]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary().display()));
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    let watchdog = std::thread::spawn(move || {
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            // SAFETY: signal 0 only checks that the process exists.
            if unsafe { libc::kill(pid as i32, 0) } != 0 {
                return false;
            }
        }
        // SAFETY: SIGKILL to the browser this test started, by its PID.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        true
    });
    let stdout = std::io::read_to_string(child.stdout.take().unwrap()).unwrap_or_default();
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap_or_default();
    let status = child.wait().unwrap();
    let timed_out = watchdog.join().unwrap_or(false);
    assert!(!timed_out, "Chromium took over 60 s on {url}:\n{stderr}");
    assert!(status.success(), "Chromium failed on {url} ({status}):\n{stderr}");
    (stdout, stderr)
}

/// The page's rendered DOM and its console messages.
pub fn render(url: &str) -> Rendered {
    let (dom, stderr) = chromium(url, &["--dump-dom".to_string()]);
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Rendered { dom, console }
}

/// Saves a screenshot of the page to `to` (PNG), `height` pixels tall.
pub fn screenshot(url: &str, to: &Path, height: u32) {
    let _ = std::fs::remove_file(to);
    chromium(
        url,
        &[
            format!("--screenshot={}", to.display()),
            format!("--window-size=1280,{height}"),
        ],
    );
    let png = std::fs::read(to).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", to.display()));
    assert!(png.starts_with(b"\x89PNG"), "{} is not a PNG", to.display());
    assert!(
        png.len() > 20_000,
        "{} is nearly empty ({} bytes)",
        to.display(),
        png.len()
    );
}

/// Where screenshots go: kept after the test, under the target directory.
pub fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Checks common to every page: rendered as HTML, nothing logged to the console.
pub fn assert_clean(what: &str, page: &Rendered) {
    assert!(
        page.dom.contains("<body") && page.dom.contains("</html>"),
        "{what}: not rendered as HTML:\n{}",
        page.dom
    );
    assert!(
        page.console.is_empty(),
        "{what}: console messages:\n{}",
        page.console.join("\n")
    );
}

/// The text of every SVG `<text>` element of a DOM (titles, axis units, ticks, legends,
/// marker labels), trimmed.
pub fn svg_texts(dom: &str) -> Vec<String> {
    dom.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

/// How many times `needle` occurs in `hay`.
pub fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}
