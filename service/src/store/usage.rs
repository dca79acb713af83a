//! The usage table: counters that music-gateway's usage plans keep (API keys'
//! quotas), one item per counter (`Counter` S, the key; `Total` N), added to
//! with DynamoDB's atomic `ADD`, so that any number of gateways count into the
//! same totals. The table is created on first use (a gateway asks before an
//! operator thinks of it), with on-demand-sized provisioned throughput.

use std::sync::Arc;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, ProvisionedThroughput,
    ReturnValue, ScalarAttributeType,
};
use futures_util::{StreamExt, stream};
use tokio::sync::Mutex;

use super::{FailureKind, Observed, Operation, Store, StoreError};
use crate::domain::TableName;

/// The usage table's key attribute.
const COUNTER: &str = "Counter";
/// The usage table's total attribute.
const TOTAL: &str = "Total";
/// Counters updated at once for one request: enough to flush 1,000 keys in
/// well under a second, few enough not to crowd out the music tables' calls.
const CONCURRENT_UPDATES: usize = 16;
/// The usage table's capacity when this service creates it: counters are
/// updated about once a second per active key and gateway.
const USAGE_CAPACITY: i64 = 25;

/// One counter's increment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Increment {
    pub counter: String,
    pub count: i64,
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

    async fn add_all(&self, increments: &[Increment]) -> Result<Vec<i64>, StoreError> {
        let mut totals = vec![0; increments.len()];
        // Owned values: futures borrowing the slice trip a higher-ranked
        // lifetime limit of rustc inside tonic's `async_trait` handlers.
        let mut updates = stream::iter(increments.iter().cloned().enumerate())
            .map(|(index, increment)| {
                let this = self.clone();
                async move { (index, this.add_one(&increment).await) }
            })
            .buffer_unordered(CONCURRENT_UPDATES);
        while let Some((index, total)) = updates.next().await {
            totals[index] = total?;
        }
        Ok(totals)
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
            .and_then(|a| a.get(TOTAL))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
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
