//! `TableStatuses`: a [`Tamper`] hook for the [`StoreProxy`] that emulates
//! the transient table statuses of real DynamoDB.
//!
//! Real DynamoDB keeps a new table CREATING, and a deleted one DELETING, for
//! seconds. The local stores make a table ACTIVE, or gone, at once, and
//! DynamoDB Local's `-delayTransientStatuses` flag does not change that: it
//! delays only the statuses of global secondary indexes, never a table's. So
//! for a set time after a table is created or deleted, the proxy changes what
//! the store says about that table:
//!
//! - after a successful CreateTable, CreateTable's and DescribeTable's
//!   `"TableStatus":"ACTIVE"` for the table reads `"CREATING"`;
//! - after a successful DeleteTable, the proxy answers DescribeTable of the
//!   table itself, with the table described as `"DELETING"` (taken from the
//!   DeleteTable response), and only then lets the store's own
//!   ResourceNotFoundException through.
//!
//! Owns: [`TableStatuses`], [`Windows`].
//!
//! [`StoreProxy`]: crate::store_proxy::StoreProxy

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::store_proxy::{Call, Reply, Tamper};

/// How long each transient status lasts after the call that starts it.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    /// CREATING, after a successful CreateTable.
    pub creating: Duration,
    /// DELETING, after a successful DeleteTable.
    pub deleting: Duration,
}

/// What the proxy currently pretends about one table.
#[derive(Debug)]
enum Transient {
    Creating { until: Instant },
    Deleting { until: Instant, table: Value },
}

/// The emulation, with a count of the answers it changed.
#[derive(Debug)]
pub struct TableStatuses {
    windows: Windows,
    tables: Mutex<HashMap<String, Transient>>,
    /// Responses that reported a transient status the store did not.
    transient_answers: AtomicUsize,
}

impl TableStatuses {
    pub fn new(windows: Windows) -> Self {
        Self {
            windows,
            tables: Mutex::new(HashMap::new()),
            transient_answers: AtomicUsize::new(0),
        }
    }

    /// How many responses so far reported CREATING or DELETING where the store
    /// itself would not have.
    pub fn transient_answers(&self) -> usize {
        self.transient_answers.load(Ordering::Relaxed)
    }

    fn begin(&self, table: &str, transient: Transient) {
        self.tables
            .lock()
            .unwrap()
            .insert(table.to_owned(), transient);
    }

    fn is_creating(&self, table: &str) -> bool {
        let mut tables = self.tables.lock().unwrap();
        match tables.get(table) {
            Some(Transient::Creating { until }) if Instant::now() < *until => true,
            Some(Transient::Creating { .. }) => {
                tables.remove(table);
                false
            }
            _ => false,
        }
    }

    /// The table as described while DELETING, if it still is.
    fn deleting(&self, table: &str) -> Option<Value> {
        let mut tables = self.tables.lock().unwrap();
        match tables.get(table) {
            Some(Transient::Deleting {
                until,
                table: described,
            }) if Instant::now() < *until => Some(described.clone()),
            Some(Transient::Deleting { .. }) => {
                tables.remove(table);
                None
            }
            _ => None,
        }
    }

    /// A successful response's body as the proxy reports it, when that
    /// differs from the store's; records the transient statuses that calls
    /// start.
    fn changed_body(&self, operation: &str, table: &str, body: &[u8]) -> Option<Vec<u8>> {
        let mut answer: Value = serde_json::from_slice(body).ok()?;
        let now = Instant::now();
        let described = match operation {
            "CreateTable" => {
                if self.windows.creating.is_zero() {
                    return None;
                }
                let until = now + self.windows.creating;
                self.begin(table, Transient::Creating { until });
                answer.get_mut("TableDescription")?
            }
            "DescribeTable" if self.is_creating(table) => answer.get_mut("Table")?,
            "DeleteTable" => {
                if self.windows.deleting.is_zero() {
                    return None;
                }
                let described = answer.get_mut("TableDescription")?;
                described["TableStatus"] = json!("DELETING");
                let until = now + self.windows.deleting;
                let table_while_deleting = described.clone();
                self.begin(
                    table,
                    Transient::Deleting {
                        until,
                        table: table_while_deleting,
                    },
                );
                return serde_json::to_vec(&answer).ok();
            }
            _ => return None,
        };
        if described.get("TableStatus")? != "ACTIVE" {
            return None;
        }
        described["TableStatus"] = json!("CREATING");
        serde_json::to_vec(&answer).ok()
    }
}

fn table_name(body: &[u8]) -> Option<String> {
    let request: Value = serde_json::from_slice(body).ok()?;
    Some(request.get("TableName")?.as_str()?.to_owned())
}

impl Tamper for TableStatuses {
    fn answer(&self, call: &Call<'_>) -> Option<Reply> {
        if call.operation != "DescribeTable" {
            return None;
        }
        let described = self.deleting(&table_name(call.body)?)?;
        self.transient_answers.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&json!({ "Table": described })).expect("JSON");
        Some(Reply::json(body))
    }

    fn rewrite(&self, call: &Call<'_>, answer: &Reply) -> Option<Bytes> {
        if !answer.status.is_success() {
            return None;
        }
        let table = table_name(call.body)?;
        let body = self.changed_body(call.operation, &table, &answer.body)?;
        self.transient_answers.fetch_add(1, Ordering::Relaxed);
        Some(Bytes::from(body))
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    fn call<'a>(operation: &'a str, body: &'a [u8]) -> Call<'a> {
        Call { operation, body }
    }

    #[test]
    fn a_created_table_reads_creating_and_a_deleted_one_deleting_for_their_windows() {
        let statuses = TableStatuses::new(Windows {
            creating: Duration::from_secs(60),
            deleting: Duration::from_secs(60),
        });
        let request = br#"{"TableName": "Music"}"#;
        let created =
            Reply::json(r#"{"TableDescription": {"TableName": "Music", "TableStatus": "ACTIVE"}}"#);
        let body = statuses
            .rewrite(&call("CreateTable", request), &created)
            .expect("CREATING");
        assert!(String::from_utf8_lossy(&body).contains(r#""TableStatus":"CREATING""#));
        let described =
            Reply::json(r#"{"Table": {"TableName": "Music", "TableStatus": "ACTIVE"}}"#);
        assert!(
            statuses
                .rewrite(&call("DescribeTable", request), &described)
                .is_some()
        );
        let mut refused = described.clone();
        refused.status = StatusCode::BAD_REQUEST;
        assert!(
            statuses
                .rewrite(&call("DescribeTable", request), &refused)
                .is_none()
        );

        assert!(statuses.answer(&call("DescribeTable", request)).is_none());
        statuses
            .rewrite(&call("DeleteTable", request), &created)
            .expect("DELETING");
        let answered = statuses
            .answer(&call("DescribeTable", request))
            .expect("the proxy answers while DELETING");
        assert!(String::from_utf8_lossy(&answered.body).contains(r#""TableStatus":"DELETING""#));
        assert!(
            statuses
                .answer(&call("DescribeTable", br#"{"TableName": "Other"}"#))
                .is_none()
        );
        assert_eq!(statuses.transient_answers(), 4);
    }
}
