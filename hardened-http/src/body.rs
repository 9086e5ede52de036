//! A response body that reports when it has been handed to the connection: hyper drops
//! it once the last frame is written into the connection's buffer, which is when the
//! request is done as far as this process is concerned.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};

pub struct Tracked<B> {
    inner: B,
    on_done: Option<Box<dyn FnOnce() + Send>>,
}

impl<B> Tracked<B> {
    pub fn new(inner: B, on_done: Box<dyn FnOnce() + Send>) -> Self {
        Self {
            inner,
            on_done: Some(on_done),
        }
    }
}

impl<B> Drop for Tracked<B> {
    fn drop(&mut self) {
        if let Some(done) = self.on_done.take() {
            done();
        }
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
