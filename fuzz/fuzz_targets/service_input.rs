//! The service's input checks: any strings and numbers are accepted exactly
//! when DynamoDB would accept them, else refused with a violation, never a
//! panic; the `grpc-timeout` and `traceparent` readers take any header text.
//!
//! Input: ten lines, in order: table name, artist, song title, album title,
//! read capacity, write capacity, page size, page token, `grpc-timeout`,
//! `traceparent`. Text is read as UTF-8 (bad bytes become U+FFFD); a text
//! line ending in `*N` is its text repeated N times (up to 500 000), so that
//! the 2048-byte, 1024-byte and 400 KB limits are within reach.

#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use music_fuzz::{
    api::wire::{grpc_timeout, is_valid_request_id},
    runtime::traceparent,
    service::domain::{
        ALBUM_TITLE, ARTIST, MAX_ITEM_BYTES, MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES,
        MAX_TABLE_NAME_LEN, MIN_TABLE_NAME_LEN, SONG_TITLE, Song, SongKey, TableName, TablePage,
        Throughput, Write,
    },
};

fn text(line: &[u8]) -> String {
    let line = String::from_utf8_lossy(line);
    if let Some((unit, times)) = line.rsplit_once('*')
        && let Ok(times) = times.parse::<usize>()
        && times <= 500_000
        && unit.len() * times <= 1 << 20
    {
        return unit.repeat(times);
    }
    line.into_owned()
}

fn number<T: std::str::FromStr + Default>(line: &[u8]) -> T {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_default()
}

fn is_table_name(name: &str) -> bool {
    (MIN_TABLE_NAME_LEN..=MAX_TABLE_NAME_LEN).contains(&name.chars().count())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// What tonic hands the service as metadata text: visible ASCII only.
fn metadata_text(line: &[u8]) -> Option<&str> {
    HeaderValue::from_bytes(line).ok()?;
    std::str::from_utf8(line)
        .ok()
        .filter(|s| s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)))
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|b| *b == b'\n');
    let mut line = || lines.next().unwrap_or_default();
    let (table_name, artist, song_title, album_title) =
        (text(line()), text(line()), text(line()), text(line()));
    let (read, write, page_size): (i64, i64, i32) =
        (number(line()), number(line()), number(line()));
    let page_token = text(line());
    let (timeout, traceparent) = (line(), line());

    let name = TableName::parse(table_name.clone(), "table_name");
    assert_eq!(name.is_ok(), is_table_name(&table_name), "{table_name:?}");
    if let Err(violation) = name {
        assert!(violation.description.len() < 2_000, "the echo is bounded");
    }

    let key = SongKey::parse(artist.clone(), song_title.clone(), ("artist", "song_title"));
    let key_ok = (1..=MAX_PARTITION_KEY_BYTES).contains(&artist.len())
        && (1..=MAX_SORT_KEY_BYTES).contains(&song_title.len());
    assert_eq!(key.is_ok(), key_ok);
    if let Ok(key) = key {
        let size = ARTIST.len()
            + artist.len()
            + SONG_TITLE.len()
            + song_title.len()
            + ALBUM_TITLE.len()
            + album_title.len();
        for write in [Write::Put, Write::Update] {
            let song = Song::parse(key.clone(), album_title.clone(), "album_title", write);
            assert_eq!(song.is_ok(), size <= MAX_ITEM_BYTES);
        }
    }

    assert_eq!(
        Throughput::parse(read, write).is_ok(),
        read >= 1 && write >= 1
    );

    let page = TablePage::parse(page_size, page_token.clone());
    let page_ok = (0..=TablePage::MAX).contains(&page_size)
        && (page_token.is_empty() || is_table_name(&page_token));
    assert_eq!(page.is_ok(), page_ok);

    // Fed what can reach them: header text.
    if let Some(text) = metadata_text(timeout)
        && let Some(budget) = grpc_timeout(text)
    {
        assert!((2..=9).contains(&text.len()), "{text:?}");
        assert!(budget.as_secs() <= 99_999_999 * 3600);
    }
    if let Some(text) = metadata_text(traceparent) {
        if let Some(parent) = traceparent::parse(text) {
            assert_eq!(parent.trace_id.len(), 32);
            assert!(parent.trace_id.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(text.contains(parent.trace_id));
            assert_eq!(parent.parent_id.len(), 16);
        }
        // The same header text as a request id: accepted only when short and visible.
        if is_valid_request_id(text.as_bytes()) {
            assert!(text.len() <= 128 && !text.contains(' '));
        }
    }
});
