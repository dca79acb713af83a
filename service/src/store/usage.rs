//! The usage table: counters that music-gateway's usage plans keep (API keys'
//! quotas), one item per counter (`Counter` S, the key; `Total` N), added to
//! with DynamoDB's atomic `ADD`, so that any number of gateways count into the
//! same totals. The table is created on first use (a gateway asks before an
//! operator thinks of it), with on-demand-sized provisioned throughput.

use std::{collections::HashMap, sync::Arc, time::Duration};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, ProvisionedThroughput,
    ReturnValue, ScalarAttributeType,
};
use futures_util::{StreamExt, stream};
use tokio::{sync::Mutex, time::Instant};

use super::{FailureKind, Observed, Operation, Store, StoreError};
use crate::domain::{MAX_BATCH_GET, TableName};

/// The usage table's key attribute.
const COUNTER: &str = "Counter";
/// The usage table's total attribute.
const TOTAL: &str = "Total";
/// Counters updated at once for one request: enough to flush 1,000 keys in
/// well under a second, few enough not to crowd out the music tables' calls.
const CONCURRENT_UPDATES: usize = 16;
/// How long the reads of one request may retry counters DynamoDB left
/// unprocessed (a gateway waits 3 s for its flush).
const READ_DEADLINE: Duration = Duration::from_secs(2);
/// The usage table's capacity when this service creates it: counters are
/// updated about once a second per active key and gateway.
const USAGE_CAPACITY: i64 = 25;

/// One counter's increment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Increment {
    pub counter: String,
    pub count: i64,
}

/// One store call of an AddUsage: a batch of reads or one increment, by the
/// increments' indexes.
enum Call {
    Read(Vec<(usize, Increment)>),
    Add(usize, Increment),
}

/// The usage counters in their table.
#[derive(Debug, Clone)]
pub struct UsageStore {
    store: Store,
    table: TableName,
    /// Held while the table is being created, so that concurrent first
    /// calls create it once.
    creating: Arc<Mutex<()>>,
}

impl UsageStore {
    pub fn new(store: Store, table: TableName) -> Self {
        Self {
            store,
            table,
            creating: Arc::new(Mutex::new(())),
        }
    }

    pub fn table(&self) -> &TableName {
        &self.table
    }

    /// Adds every increment; the new totals, in the increments' order. A
    /// missing table is created (once) and the call made again.
    pub async fn add(&self, increments: &[Increment]) -> Result<Vec<i64>, StoreError> {
        match self.add_all(increments).await {
            Err(error) if error.kind == FailureKind::ResourceNotFound => {
                self.create_table().await?;
                self.add_all(increments).await
            }
            other => other,
        }
    }

    /// The increments of 0, which only read a total, as BatchGetItem calls
    /// of up to 100 counters; then the increments above 0 as one
    /// `UpdateItem ADD` each (DynamoDB has no batched update that answers
    /// the new values). At most [`CONCURRENT_UPDATES`] calls at once. The
    /// reads go first so that a read that fails fails the call before any
    /// count is added: the gateway sends its increments again after a
    /// failure, and they would be counted twice.
    async fn add_all(&self, increments: &[Increment]) -> Result<Vec<i64>, StoreError> {
        let mut totals = vec![0; increments.len()];
        let (reads, adds): (Vec<_>, Vec<_>) = increments
            .iter()
            .cloned()
            .enumerate()
            .partition(|(_, increment)| increment.count == 0);
        // Owned values: futures borrowing the slice trip a higher-ranked
        // lifetime limit of rustc inside tonic's `async_trait` handlers.
        let reads: Vec<Call> = reads
            .chunks(MAX_BATCH_GET)
            .map(|chunk| Call::Read(chunk.to_vec()))
            .collect();
        let adds: Vec<Call> = adds
            .into_iter()
            .map(|(index, increment)| Call::Add(index, increment))
            .collect();
        for calls in [reads, adds] {
            let mut calls = stream::iter(calls)
                .map(|call| {
                    let this = self.clone();
                    async move {
                        match call {
                            Call::Read(counters) => this.read_totals(counters).await,
                            Call::Add(index, increment) => {
                                Ok(vec![(index, this.add_one(&increment).await?)])
                            }
                        }
                    }
                })
                .buffer_unordered(CONCURRENT_UPDATES);
            while let Some(answered) = calls.next().await {
                for (index, total) in answered? {
                    totals[index] = total;
                }
            }
        }
        Ok(totals)
    }

    /// The totals of `counters` (indexed as the caller's increments); a
    /// counter not in the table yet is at 0.
    async fn read_totals(
        &self,
        counters: Vec<(usize, Increment)>,
    ) -> Result<Vec<(usize, i64)>, StoreError> {
        let keys = counters
            .iter()
            .map(|(_, increment)| {
                HashMap::from([(
                    COUNTER.to_owned(),
                    AttributeValue::S(increment.counter.clone()),
                )])
            })
            .collect();
        let deadline = Instant::now() + READ_DEADLINE;
        let (items, unprocessed) = self
            .store
            .batch_get_items(&self.table, keys, deadline)
            .await?;
        if !unprocessed.is_empty() {
            return Err(StoreError::new(
                Operation::BatchGetItem,
                FailureKind::Throttled,
                "UnprocessedKeys",
                format!(
                    "DynamoDB left {} of {} usage counters unread",
                    unprocessed.len(),
                    counters.len()
                ),
            ));
        }
        let mut found: HashMap<String, i64> = items
            .iter()
            .filter_map(|item| {
                let counter = item.get(COUNTER)?.as_s().ok()?;
                Some((counter.clone(), total_of(item)?))
            })
            .collect();
        Ok(counters
            .into_iter()
            .map(|(index, increment)| (index, found.remove(&increment.counter).unwrap_or(0)))
            .collect())
    }

    async fn add_one(&self, increment: &Increment) -> Result<i64, StoreError> {
        let updated = self
            .store
            .client
            .update_item()
            .table_name(self.table.as_str())
            .key(COUNTER, AttributeValue::S(increment.counter.clone()))
            .update_expression("ADD #t :n")
            .expression_attribute_names("#t", TOTAL)
            .expression_attribute_values(":n", AttributeValue::N(increment.count.to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .observed(Operation::UpdateItem)
            .await?;
        Ok(updated
            .attributes()
            .and_then(total_of)
            .unwrap_or(increment.count))
    }

    /// Creates the usage table and waits until it is ACTIVE; a table that
    /// another caller (another service replica) is creating is waited for.
    async fn create_table(&self) -> Result<(), StoreError> {
        const OP: Operation = Operation::CreateTable;
        let _creating = self.creating.lock().await;
        if self.store.table_exists(OP, &self.table).await? {
            self.store.wait_for_table(OP, &self.table, true).await?;
            return Ok(());
        }
        tracing::info!(table = %self.table, "creating the usage table");
        let created = self
            .store
            .client
            .create_table()
            .table_name(self.table.as_str())
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(COUNTER)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute definition has its required fields"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(COUNTER)
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("key schema element has its required fields"),
            )
            .provisioned_throughput(
                ProvisionedThroughput::builder()
                    .read_capacity_units(USAGE_CAPACITY)
                    .write_capacity_units(USAGE_CAPACITY)
                    .build()
                    .expect("throughput has its required fields"),
            )
            .send()
            .observed(OP)
            .await;
        match created {
            Ok(_) => {}
            // Another replica created it first: wait for it like for ours.
            Err(error) if error.kind == FailureKind::ResourceInUse => {}
            Err(error) => return Err(error),
        }
        self.store.wait_for_table(OP, &self.table, true).await?;
        Ok(())
    }
}

/// An item's `Total`, as a number.
fn total_of(item: &HashMap<String, AttributeValue>) -> Option<i64> {
    item.get(TOTAL)?.as_n().ok()?.parse().ok()
}
