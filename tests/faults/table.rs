//! Reading a table straight from the store (DynamoDB Local, or the test's
//! embedded dynoxide) with a fresh aws-sdk-dynamodb client: what is really
//! there, whatever the service under test said or remembers.

use std::collections::BTreeMap;

use music_testkit::dynamodb;

/// `(artist, song title)` → album title, for every item of `table`.
pub(crate) type Songs = BTreeMap<(String, String), Option<String>>;

/// Every item of `table` at `endpoint`, by a full (paginated, strongly
/// consistent) Scan.
pub(crate) async fn scan(endpoint: &str, table: &str) -> Songs {
    let client = dynamodb::client(endpoint);
    let mut songs = Songs::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan {table} at {endpoint}: {e:?}"));
        for item in page.items() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            let key = (
                text("Artist").expect("every item has its key"),
                text("SongTitle").expect("every item has its key"),
            );
            songs.insert(key, text("AlbumTitle"));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return songs;
        }
    }
}
