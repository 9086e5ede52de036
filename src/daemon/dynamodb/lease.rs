//! The leader's lease as one item, taken and renewed with conditional updates.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use futures::future::BoxFuture;

use super::table::{Table, describe};
use crate::daemon::leadership::{Claim, LeaseRecord, LeaseStore};

pub struct DynamoLease {
    client: Client,
    table: Table,
}

impl DynamoLease {
    pub fn new(client: Client, table: Table) -> Self {
        Self { client, table }
    }

    fn key(&self) -> [(String, AttributeValue); 2] {
        [
            ("pk".into(), AttributeValue::S(self.table.lease_pk())),
            ("sk".into(), AttributeValue::S("lease".into())),
        ]
    }

    /// The lease as stored (a strongly consistent read), or an empty one.
    async fn read(&self) -> Result<LeaseRecord, String> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table.table)
            .set_key(Some(self.key().into_iter().collect()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| describe("GetItem", &e).0)?;
        Ok(out.item.as_ref().map(record).unwrap_or(LeaseRecord {
            holder: String::new(),
            epoch: 0,
            expires_at_ms: 0,
        }))
    }
}

fn record(item: &std::collections::HashMap<String, AttributeValue>) -> LeaseRecord {
    let n = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
    };
    LeaseRecord {
        holder: item
            .get("holder")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default(),
        epoch: n("epoch").unwrap_or(0).max(0) as u64,
        expires_at_ms: n("expires_at_ms").unwrap_or(0),
    }
}

impl LeaseStore for DynamoLease {
    fn claim<'a>(
        &'a self,
        me: &'a str,
        held: Option<u64>,
        now_ms: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, String>> {
        Box::pin(async move {
            let expires_at_ms = now_ms + ttl.as_millis() as i64;
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table.table)
                .set_key(Some(self.key().into_iter().collect()))
                .expression_attribute_values(":me", AttributeValue::S(me.to_string()))
                .expression_attribute_values(":exp", AttributeValue::N(expires_at_ms.to_string()))
                .return_values(ReturnValue::AllNew);
            update = match held {
                Some(epoch) => update
                    .update_expression("SET expires_at_ms = :exp")
                    .condition_expression("holder = :me AND epoch = :epoch")
                    .expression_attribute_values(":epoch", AttributeValue::N(epoch.to_string())),
                None => update
                    .update_expression(
                        "SET holder = :me, expires_at_ms = :exp, epoch = if_not_exists(epoch, :zero) + :one",
                    )
                    // Free, lapsed, malformed, or ours from a claim whose answer was lost
                    // (a new epoch fences our own older rounds). The lease item has no TTL:
                    // deleting it would restart epochs below the histories' and refuse
                    // every later state write.
                    .condition_expression(
                        "attribute_not_exists(pk) OR attribute_not_exists(expires_at_ms) OR expires_at_ms < :now OR holder = :me",
                    )
                    .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
                    .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                    .expression_attribute_values(":one", AttributeValue::N("1".into())),
            };
            match update.send().await {
                Ok(out) => Ok(Claim::Held(out.attributes.as_ref().map(record).unwrap_or(
                    LeaseRecord {
                        holder: me.to_string(),
                        epoch: held.unwrap_or(1),
                        expires_at_ms,
                    },
                ))),
                Err(e) => match describe("UpdateItem (lease)", &e) {
                    (_, true) => Ok(Claim::TakenBy(self.read().await?)),
                    (reason, false) => Err(reason),
                },
            }
        })
    }

    fn release<'a>(&'a self, me: &'a str, epoch: u64) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let result = self
                .client
                .update_item()
                .table_name(&self.table.table)
                .set_key(Some(self.key().into_iter().collect()))
                .update_expression("SET expires_at_ms = :zero")
                .condition_expression("holder = :me AND epoch = :epoch")
                .expression_attribute_values(":me", AttributeValue::S(me.to_string()))
                .expression_attribute_values(":epoch", AttributeValue::N(epoch.to_string()))
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                // Someone else holds it already: nothing to give up.
                Err(e) => match describe("UpdateItem (release)", &e) {
                    (_, true) => Ok(()),
                    (reason, false) => Err(reason),
                },
            }
        })
    }

    fn describe(&self) -> String {
        format!("dynamodb {} ({})", self.table.table, self.table.lease_pk())
    }
}
