//! Where a connection stands, so its watchdog knows which timeout applies: idle between
//! requests, part-way through a request head, or busy with a request.

use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No request in progress (also right after the connection opened).
    Idle,
    /// Bytes of a request head have arrived; the head is not complete yet.
    Head,
    /// A request head has been read; the body, the handler or the response is in progress.
    Busy,
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// A phase and when it began, in one atomic word: two bits of phase, the rest
/// microseconds since a process-wide base instant.
#[derive(Debug)]
pub struct PhaseClock(AtomicU64);

impl Default for PhaseClock {
    fn default() -> Self {
        let c = PhaseClock(AtomicU64::new(0));
        c.set(Phase::Idle);
        c
    }
}

impl PhaseClock {
    pub fn set(&self, phase: Phase) {
        let micros = base().elapsed().as_micros() as u64;
        let tag = match phase {
            Phase::Idle => 0,
            Phase::Head => 1,
            Phase::Busy => 2,
        };
        self.0.store((micros << 2) | tag, Ordering::Release);
    }

    /// Moves Idle to Head; any other phase is left alone.
    fn head_started(&self) {
        let current = self.0.load(Ordering::Acquire);
        if current & 3 == 0 {
            let micros = base().elapsed().as_micros() as u64;
            let _ = self
                .0
                .compare_exchange(current, (micros << 2) | 1, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// The phase and the instant it began.
    pub fn get(&self) -> (Phase, Instant) {
        let v = self.0.load(Ordering::Acquire);
        let phase = match v & 3 {
            0 => Phase::Idle,
            1 => Phase::Head,
            _ => Phase::Busy,
        };
        (phase, base() + Duration::from_micros(v >> 2))
    }
}

/// A socket that tells its [`PhaseClock`] when the first bytes of a request arrive.
pub struct Watched<T> {
    pub inner: T,
    pub clock: std::sync::Arc<PhaseClock>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.clock.head_started();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_idle_connection_starts_a_head() {
        let c = PhaseClock::default();
        assert_eq!(c.get().0, Phase::Idle);
        c.head_started();
        assert_eq!(c.get().0, Phase::Head);
        c.set(Phase::Busy);
        c.head_started();
        assert_eq!(c.get().0, Phase::Busy, "a body arriving is not a new head");
        c.set(Phase::Idle);
        let (_, since) = c.get();
        assert!(since.elapsed() < Duration::from_secs(1));
    }
}
