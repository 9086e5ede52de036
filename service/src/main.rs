use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use search_service::config::{Command, Config};

fn main() -> ExitCode {
    let config = Config::parse();
    if let Some(Command::Healthcheck { url }) = &config.command {
        return healthcheck(url);
    }
    search_service::main_with(config)
}

/// GET `url` (http only) with short timeouts; exit 0 on a 2xx answer.
fn healthcheck(url: &str) -> ExitCode {
    let timeout = Duration::from_secs(2);
    let outcome = (|| -> Result<u16, String> {
        let rest = url.strip_prefix("http://").ok_or("only http:// URLs are supported")?;
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
        let addr = host
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .next()
            .ok_or("no address")?;
        let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").map_err(|e| e.to_string())?;
        let mut buf = [0u8; 32];
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        String::from_utf8_lossy(&buf[..n])
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or("not HTTP".into())
    })();
    match outcome {
        Ok(code) if (200..300).contains(&code) => ExitCode::SUCCESS,
        Ok(code) => {
            eprintln!("unhealthy: {url} answered {code}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}
