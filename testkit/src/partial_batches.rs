//! `PartialBatches`: a [`Tamper`] hook for the [`StoreProxy`] that makes the
//! store leave part of a batch unprocessed, as real DynamoDB does.
//!
//! DynamoDB may process only part of a BatchGetItem or BatchWriteItem (a
//! throttled partition, a 16 MB answer) and name the rest in
//! `UnprocessedKeys` / `UnprocessedItems`; the local stores always process
//! all of it. This hook forwards only part of a batch call's entries to the
//! store and adds the entries it held back to the store's answer as
//! unprocessed, so what the caller is told was done is exactly what the store
//! did. Which entries are held back is a [`Rule`]:
//!
//! - [`Rule::FirstCalls`]: the first N batch calls of each operation leave
//!   the second half of their entries unprocessed (then the store processes
//!   everything), as a throttled table soon recovers;
//! - [`Rule::Never`]: entries whose SongTitle is in a set are never
//!   processed, however often they are sent, as a partition that stays hot.
//!
//! Every batch call is recorded ([`BatchCall`]): what it asked, what was held
//! back, when it arrived.
//!
//! Owns: [`PartialBatches`], [`Rule`], [`BatchCall`].
//!
//! [`StoreProxy`]: crate::store_proxy::StoreProxy

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
    time::Instant,
};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::store_proxy::{Altered, Call, Reply, Tamper};

/// A song's key as the hook reads it: (Artist, SongTitle).
pub type Key = (String, String);

/// Which entries of a batch are held back.
#[derive(Debug, Clone)]
pub enum Rule {
    /// The first `calls` batch calls of each operation process only the
    /// first half of their entries (rounded up); later calls, everything.
    FirstCalls(usize),
    /// Entries with one of these song titles are never processed.
    Never(HashSet<String>),
}

/// One BatchGetItem or BatchWriteItem the proxy saw.
#[derive(Debug, Clone)]
pub struct BatchCall {
    /// `BatchGetItem` or `BatchWriteItem`.
    pub operation: String,
    pub arrived: Instant,
    /// The keys of every entry it asked for, in order.
    pub asked: Vec<Key>,
    /// The keys of the entries held back and answered as unprocessed.
    pub unprocessed: Vec<Key>,
}

/// The hook.
#[derive(Debug)]
pub struct PartialBatches {
    rule: Rule,
    /// Batch calls held back so far, by operation (for [`Rule::FirstCalls`]).
    partial_calls: Mutex<HashMap<String, usize>>,
    calls: Mutex<Vec<BatchCall>>,
}

/// A batch call's request, read: its one table and its entries.
struct Batch {
    operation: String,
    /// The whole request body.
    request: Value,
    table: String,
    /// BatchGetItem: the keys; BatchWriteItem: the write requests.
    entries: Vec<Value>,
    keys: Vec<Key>,
}

impl Batch {
    fn read(call: &Call<'_>) -> Option<Self> {
        let is_get = match call.operation {
            "BatchGetItem" => true,
            "BatchWriteItem" => false,
            _ => return None,
        };
        let request: Value = serde_json::from_slice(call.body).ok()?;
        let (table, spec) = request["RequestItems"].as_object()?.iter().next()?;
        let entries = if is_get {
            spec["Keys"].as_array()?.clone()
        } else {
            spec.as_array()?.clone()
        };
        let keys = entries
            .iter()
            .map(|entry| {
                let key = if is_get {
                    entry
                } else if entry["PutRequest"].is_object() {
                    &entry["PutRequest"]["Item"]
                } else {
                    &entry["DeleteRequest"]["Key"]
                };
                let text = |name: &str| key[name]["S"].as_str().unwrap_or_default().to_owned();
                (text("Artist"), text("SongTitle"))
            })
            .collect();
        Some(Self {
            operation: call.operation.to_owned(),
            table: table.clone(),
            request,
            entries,
            keys,
        })
    }

    fn is_get(&self) -> bool {
        self.operation == "BatchGetItem"
    }

    /// The request with only `entries`.
    fn request_with(&self, entries: Vec<Value>) -> Value {
        let mut request = self.request.clone();
        let spec = &mut request["RequestItems"][&self.table];
        if self.is_get() {
            spec["Keys"] = Value::Array(entries);
        } else {
            *spec = Value::Array(entries);
        }
        request
    }

    /// `answer` (the store's, or an empty one) with `held` added as unprocessed.
    fn answer_with(&self, mut answer: Value, held: Vec<Value>) -> Value {
        if self.is_get() {
            let spec = &mut answer["UnprocessedKeys"][&self.table];
            if !spec.is_object() {
                // The request's spec (ConsistentRead and the like), its keys those held back.
                *spec = self.request["RequestItems"][&self.table].clone();
                spec["Keys"] = json!([]);
            }
            if let Some(keys) = spec["Keys"].as_array_mut() {
                keys.extend(held);
            }
            if !answer["Responses"][&self.table].is_array() {
                answer["Responses"][&self.table] = json!([]);
            }
        } else {
            let items = &mut answer["UnprocessedItems"][&self.table];
            if !items.is_array() {
                *items = json!([]);
            }
            if let Some(items) = items.as_array_mut() {
                items.extend(held);
            }
        }
        answer
    }
}

impl PartialBatches {
    pub fn new(rule: Rule) -> Self {
        Self {
            rule,
            partial_calls: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Every batch call so far, in order of arrival.
    pub fn calls(&self) -> Vec<BatchCall> {
        self.calls.lock().unwrap().clone()
    }

    /// The batch calls of `operation` so far.
    pub fn calls_of(&self, operation: &str) -> Vec<BatchCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.operation == operation)
            .collect()
    }

    /// Which entries of `batch` to hold back (by index). Counts the call
    /// against [`Rule::FirstCalls`] only when `count` is set.
    fn held_back(&self, batch: &Batch, count: bool) -> Vec<bool> {
        match &self.rule {
            Rule::Never(titles) => batch
                .keys
                .iter()
                .map(|(_, title)| titles.contains(title))
                .collect(),
            Rule::FirstCalls(calls) => {
                let mut partial = self.partial_calls.lock().unwrap();
                let done = partial.entry(batch.operation.clone()).or_default();
                let hold = *done < *calls && batch.entries.len() > 1;
                if hold && count {
                    *done += 1;
                }
                let keep = batch.entries.len().div_ceil(2);
                (0..batch.entries.len())
                    .map(|i| hold && i >= keep)
                    .collect()
            }
        }
    }

    fn record(&self, batch: &Batch, held: &[bool]) {
        self.calls.lock().unwrap().push(BatchCall {
            operation: batch.operation.clone(),
            arrived: Instant::now(),
            asked: batch.keys.clone(),
            unprocessed: batch
                .keys
                .iter()
                .zip(held)
                .filter(|(_, held)| **held)
                .map(|(key, _)| key.clone())
                .collect(),
        });
    }
}

/// `entries` split into (forwarded, held back).
fn split(entries: &[Value], held: &[bool]) -> (Vec<Value>, Vec<Value>) {
    let (mut forwarded, mut back) = (Vec::new(), Vec::new());
    for (entry, held) in entries.iter().zip(held) {
        if *held {
            back.push(entry.clone());
        } else {
            forwarded.push(entry.clone());
        }
    }
    (forwarded, back)
}

impl Tamper for PartialBatches {
    /// A batch held back whole is answered here: the store would refuse a
    /// batch with no entries, and DynamoDB answers such a call with all of
    /// it unprocessed.
    fn answer(&self, call: &Call<'_>) -> Option<Reply> {
        let batch = Batch::read(call)?;
        let held = self.held_back(&batch, false);
        if !held.iter().all(|h| *h) {
            return None;
        }
        self.record(&batch, &held);
        let answer = batch.answer_with(json!({}), batch.entries.clone());
        Some(Reply::json(answer.to_string()))
    }

    fn alter(&self, call: &Call<'_>) -> Option<Altered> {
        let batch = Batch::read(call)?;
        let held = self.held_back(&batch, true);
        self.record(&batch, &held);
        if !held.iter().any(|h| *h) {
            return None;
        }
        let (forwarded, back) = split(&batch.entries, &held);
        let body = Bytes::from(batch.request_with(forwarded).to_string());
        Some(Altered {
            body,
            answer: Box::new(move |reply: &Reply| {
                // The store's errors pass as they are.
                if !reply.status.is_success() {
                    return None;
                }
                let answer: Value = serde_json::from_slice(&reply.body).ok()?;
                Some(Bytes::from(batch.answer_with(answer, back).to_string()))
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(operation: &'a str, body: &'a [u8]) -> Call<'a> {
        Call { operation, body }
    }

    fn key(title: &str) -> Value {
        json!({"Artist": {"S": "A"}, "SongTitle": {"S": title}})
    }

    #[test]
    fn the_first_call_forwards_half_a_batch_and_answers_the_rest_unprocessed() {
        let hook = PartialBatches::new(Rule::FirstCalls(1));
        let body = json!({"RequestItems": {"T": {"Keys": [key("a"), key("b"), key("c")], "ConsistentRead": true}}})
            .to_string();
        let altered = hook
            .alter(&call("BatchGetItem", body.as_bytes()))
            .expect("the first call is altered");
        let forwarded: Value = serde_json::from_slice(&altered.body).unwrap();
        assert_eq!(
            forwarded["RequestItems"]["T"]["Keys"],
            json!([key("a"), key("b")])
        );
        let store = Reply::json(json!({"Responses": {"T": [key("a")]}}).to_string());
        let answer: Value = serde_json::from_slice(&(altered.answer)(&store).unwrap()).unwrap();
        assert_eq!(answer["Responses"]["T"], json!([key("a")]));
        assert_eq!(
            answer["UnprocessedKeys"]["T"],
            json!({"Keys": [key("c")], "ConsistentRead": true})
        );
        assert!(
            hook.alter(&call("BatchGetItem", body.as_bytes())).is_none(),
            "the second call goes through whole"
        );
        let calls = hook.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].unprocessed, vec![("A".into(), "c".into())]);
        assert!(calls[1].unprocessed.is_empty());
    }

    #[test]
    fn writes_that_are_never_processed_are_answered_in_the_stores_place_when_all_are() {
        let hook = PartialBatches::new(Rule::Never(HashSet::from(["stuck".to_owned()])));
        let put = json!({"PutRequest": {"Item": key("stuck")}});
        let body = json!({"RequestItems": {"T": [put.clone()]}}).to_string();
        let reply = hook
            .answer(&call("BatchWriteItem", body.as_bytes()))
            .expect("answered in the store's place");
        let answer: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(answer, json!({"UnprocessedItems": {"T": [put]}}));
        assert!(hook.answer(&call("PutItem", b"{}")).is_none());
    }
}
