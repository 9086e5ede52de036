//! Scaling events to Amazon EventBridge (`PutEvents`), from where operators route them to
//! SNS, chat or paging with rules of their own.

use std::future::Future;
use std::pin::Pin;

use aws_smithy_types::error::display::DisplayErrorContext;

use crate::backend::events::{EventSink, Outgoing};

pub struct EventBridge {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    source: String,
}

impl EventBridge {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: String, source: String) -> Self {
        Self { client, bus, source }
    }
}

impl EventSink for EventBridge {
    fn send(&self, batch: Vec<Outgoing>) -> Pin<Box<dyn Future<Output = Result<usize, String>> + Send + '_>> {
        Box::pin(async move {
            let entries = batch
                .into_iter()
                .map(|e| {
                    aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(&self.source)
                        .detail_type(e.detail_type)
                        .time(aws_smithy_types::DateTime::from_millis(e.at.timestamp_millis()))
                        .detail(e.detail)
                        .build()
                })
                .collect::<Vec<_>>();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| format!("PutEvents failed: {}", DisplayErrorContext(&e)))?;
            Ok(usize::try_from(out.failed_entry_count()).unwrap_or(0))
        })
    }
}
