//! Asking a replica, on its admin address, whether it is ready and what its metrics say.

use std::net::SocketAddr;
use std::time::Duration;

/// What one probe of a replica found.
pub(super) struct Probe {
    pub ready: bool,
    /// The `/metrics` text, fetched only from a ready replica, or why it could not be.
    pub metrics: Option<Result<String, String>>,
}

/// One HTTP client for every probe; a replica that hangs costs at most `TIMEOUT`.
#[derive(Clone)]
pub(super) struct Prober {
    client: reqwest::Client,
}

const TIMEOUT: Duration = Duration::from_secs(2);

impl Prober {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            // Replicas come and go on fresh admin ports: idle connections to them are
            // worth little and would outlive the replicas.
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { client }
    }

    pub async fn probe(&self, admin: SocketAddr) -> Probe {
        let ready = self.get(admin, "/ready").await.is_ok_and(|(code, _)| code == 200);
        let metrics = if ready {
            Some(match self.get(admin, "/metrics").await {
                Ok((200, body)) => Ok(body),
                Ok((code, _)) => Err(format!("GET /metrics answered {code}")),
                Err(e) => Err(format!("GET /metrics failed: {e}")),
            })
        } else {
            None
        };
        Probe { ready, metrics }
    }

    async fn get(&self, admin: SocketAddr, path: &str) -> Result<(u16, String), reqwest::Error> {
        let response = self.client.get(format!("http://{admin}{path}")).send().await?;
        let code = response.status().as_u16();
        Ok((code, response.text().await?))
    }
}
