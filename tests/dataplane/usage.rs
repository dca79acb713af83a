//! `UsageService/AddUsage` on every backend, as music-gateway's quota flushes
//! call it: an increment above 0 is one atomic `UpdateItem ADD`, an increment
//! of 0 only reads its counter and is read in BatchGetItem calls of up to 100
//! counters (a counter never written reads 0), and every total comes back in
//! the request's order. The store proxy counts the calls the service makes.
//! (BatchGetItem's retry of what DynamoDB leaves unprocessed is the songs'
//! loop, tested in `batches`.)

use music_api::pb::{self, usage_service_client::UsageServiceClient};
use music_testkit::{grpc, names::unique_table, store_proxy::Fate};

use crate::rig::backends;

fn increments(counters: &[String], count: impl Fn(usize) -> i64) -> pb::AddUsageRequest {
    pb::AddUsageRequest {
        increments: counters
            .iter()
            .enumerate()
            .map(|(i, counter)| pb::UsageIncrement {
                counter: counter.clone(),
                count: count(i),
            })
            .collect(),
    }
}

fn totals(answer: &pb::AddUsageResponse) -> Vec<(String, i64)> {
    answer
        .totals
        .iter()
        .map(|t| (t.counter.clone(), t.total))
        .collect()
}

#[tokio::test]
async fn increments_are_added_and_reads_of_zero_are_batched() {
    for backend in backends().await {
        let b = backend.name;
        let stack = backend.service_through_proxy(None).await;
        let mut usage = UsageServiceClient::new(grpc::channel(stack.service.addr("grpc")).await);
        let prefix = unique_table("counter");
        let counters: Vec<String> = (0..150).map(|i| format!("{prefix}/{i:03}")).collect();
        // The first call creates the usage table where it is missing.
        usage
            .add_usage(increments(&counters[..1], |_| 1))
            .await
            .unwrap_or_else(|s| panic!("{b}: {s:?}"));
        let calls = |operation: &str| stack.proxy().count(operation, Fate::Forwarded);
        let (updates, batch_gets) = (calls("UpdateItem"), calls("BatchGetItem"));

        // Odd counters get their index; even ones are read.
        let answer = usage
            .add_usage(increments(
                &counters,
                |i| if i % 2 == 1 { i as i64 } else { 0 },
            ))
            .await
            .unwrap_or_else(|s| panic!("{b}: {s:?}"))
            .into_inner();
        let expected: Vec<(String, i64)> = counters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    c.clone(),
                    if i == 0 {
                        1
                    } else if i % 2 == 1 {
                        i as i64
                    } else {
                        0
                    },
                )
            })
            .collect();
        assert_eq!(totals(&answer), expected, "{b}");
        assert_eq!(
            calls("UpdateItem") - updates,
            75,
            "{b}: one UpdateItem an increment"
        );
        assert_eq!(
            calls("BatchGetItem") - batch_gets,
            1,
            "{b}: the 75 reads in one call"
        );

        // All 150 read: two BatchGetItem calls, no UpdateItem.
        let (updates, batch_gets) = (calls("UpdateItem"), calls("BatchGetItem"));
        let answer = usage
            .add_usage(increments(&counters, |_| 0))
            .await
            .unwrap_or_else(|s| panic!("{b}: {s:?}"))
            .into_inner();
        assert_eq!(totals(&answer), expected, "{b}");
        assert_eq!(calls("UpdateItem"), updates, "{b}: a read writes nothing");
        assert_eq!(
            calls("BatchGetItem") - batch_gets,
            2,
            "{b}: 100 and 50 counters"
        );
    }
}
