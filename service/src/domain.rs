//! Checked domain types. Protobuf fields become these through constructors
//! that enforce DynamoDB's own limits, so a request that DynamoDB would refuse
//! is refused here first, with DynamoDB's wording, and nothing unchecked
//! reaches the store.

use std::fmt;

/// DynamoDB's limits on the tutorial's key attributes and items.
pub const MIN_TABLE_NAME_LEN: usize = 3;
pub const MAX_TABLE_NAME_LEN: usize = 255;
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
pub const MAX_SORT_KEY_BYTES: usize = 1024;
/// 400 KB, counted as DynamoDB does: attribute names plus values, in UTF-8 bytes.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Attribute names of the tutorial's `Music` schema.
pub const ARTIST: &str = "Artist";
pub const SONG_TITLE: &str = "SongTitle";
pub const ALBUM_TITLE: &str = "AlbumTitle";

/// The field of a BatchWriteSongs put's album title: an oversized item there
/// is a request-level fault (see [`Violation::needs_the_table`]).
pub const BATCH_PUT_ALBUM_TITLE: &str = "writes.put.album_title";

/// One refused input field: the request field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: &'static str,
    pub description: String,
}

impl Violation {
    pub fn new(field: &'static str, description: impl Into<String>) -> Self {
        Self {
            field,
            description: description.into(),
        }
    }
}

impl Violation {
    /// Whether the violation is about a song's key or content, which DynamoDB
    /// judges only once it has found the table: on a missing table, DynamoDB
    /// answers ResourceNotFoundException first, and so must the service.
    /// (Request-level faults, such as a bad table name or a batch too large,
    /// DynamoDB refuses before it looks for the table.)
    pub fn needs_the_table(&self) -> bool {
        // An oversized item of a BatchWriteItem is refused before the table
        // is looked for (DynamoDB Local answers ValidationException for it on
        // a missing table; the dataplane suite's precedence test found it),
        // unlike the same item in a PutItem or UpdateItem.
        if self.field == BATCH_PUT_ALBUM_TITLE {
            return false;
        }
        [
            "artist",
            "song_title",
            "album_title",
            "song.",
            "keys.",
            "writes.",
        ]
        .iter()
        .any(|prefix| self.field.starts_with(prefix))
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// Echoes a refused value in a message the way DynamoDB does, but bounded so
/// an enormous value cannot blow up the error.
fn echo(value: &str) -> String {
    const MAX_ECHO: usize = 300;
    match value.char_indices().nth(MAX_ECHO) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// A DynamoDB table name: 3 to 255 characters of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(String);

impl TableName {
    pub fn parse(name: String, field: &'static str) -> Result<Self, Violation> {
        let constraint = |rule: &str| {
            Violation::new(
                field,
                format!(
                    "1 validation error detected: Value '{}' at 'tableName' failed to satisfy constraint: {rule}",
                    echo(&name)
                ),
            )
        };
        let chars = name.chars().count();
        if chars < MIN_TABLE_NAME_LEN {
            return Err(constraint(
                "Member must have length greater than or equal to 3",
            ));
        }
        if chars > MAX_TABLE_NAME_LEN {
            return Err(constraint(
                "Member must have length less than or equal to 255",
            ));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(constraint(
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A partition key value (an artist), checked as DynamoDB checks it.
pub fn check_artist(artist: &str, field: &'static str) -> Result<(), Violation> {
    if artist.is_empty() {
        return Err(Violation::new(
            field,
            format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {ARTIST}"
            ),
        ));
    }
    if artist.len() > MAX_PARTITION_KEY_BYTES {
        return Err(Violation::new(
            field,
            format!(
                "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of {MAX_PARTITION_KEY_BYTES} bytes"
            ),
        ));
    }
    Ok(())
}

/// The key of a song: partition key `Artist`, sort key `SongTitle`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SongKey {
    artist: String,
    song_title: String,
}

impl SongKey {
    pub fn parse(
        artist: String,
        song_title: String,
        fields: (&'static str, &'static str),
    ) -> Result<Self, Violation> {
        let empty = |field, key| {
            Violation::new(
                field,
                format!(
                    "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {key}"
                ),
            )
        };
        check_artist(&artist, fields.0)?;
        if song_title.is_empty() {
            return Err(empty(fields.1, SONG_TITLE));
        }
        if song_title.len() > MAX_SORT_KEY_BYTES {
            return Err(Violation::new(
                fields.1,
                format!(
                    "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of {MAX_SORT_KEY_BYTES} bytes"
                ),
            ));
        }
        Ok(Self { artist, song_title })
    }

    pub fn artist(&self) -> &str {
        &self.artist
    }

    pub fn song_title(&self) -> &str {
        &self.song_title
    }

    /// The artist and the song title, for a response.
    pub fn into_parts(self) -> (String, String) {
        (self.artist, self.song_title)
    }

    /// Builds a key from attributes already stored in DynamoDB (no checks: the
    /// store accepted them).
    pub(crate) fn from_stored(artist: String, song_title: String) -> Self {
        Self { artist, song_title }
    }
}

/// A song as written or read: its key and, usually, an album title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Song {
    pub key: SongKey,
    pub album_title: Option<String>,
}

/// How a song is written, which decides DynamoDB's wording for an oversized item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Put,
    Update,
}

impl Song {
    /// A song to write: the item, counted as DynamoDB counts it, must fit in 400 KB.
    pub fn parse(
        key: SongKey,
        album_title: String,
        field: &'static str,
        write: Write,
    ) -> Result<Self, Violation> {
        check_item_size(&key.artist, &key.song_title, &album_title, field, write)?;
        Ok(Self {
            key,
            album_title: Some(album_title),
        })
    }
}

/// An item to write, counted as DynamoDB counts it, must fit in 400 KB.
pub fn check_item_size(
    artist: &str,
    song_title: &str,
    album_title: &str,
    field: &'static str,
    write: Write,
) -> Result<(), Violation> {
    let size = ARTIST.len()
        + artist.len()
        + SONG_TITLE.len()
        + song_title.len()
        + ALBUM_TITLE.len()
        + album_title.len();
    if size > MAX_ITEM_BYTES {
        return Err(Violation::new(
            field,
            match write {
                Write::Put => "Item size has exceeded the maximum allowed size",
                Write::Update => "Item size to update has exceeded the maximum allowed size",
            },
        ));
    }
    Ok(())
}

impl Song {
    /// The song's etag (AIP-154): derived from its content alone, so that the
    /// tutorial's items keep exactly the attributes they had. 128 bits of
    /// SHA-256 over the key and the album title, as hex.
    pub fn etag(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for part in [self.key.artist.as_bytes(), self.key.song_title.as_bytes()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        match &self.album_title {
            None => hash.update([0]),
            Some(album) => {
                hash.update([1]);
                hash.update(album.as_bytes());
            }
        }
        // hex rather than a `format!` per byte: this runs for every song
        // answered, and sixteen formatted bytes cost more than the hash itself.
        hex::encode(&hash.finalize()[..16])
    }
}

/// What must hold of the stored song for a write to happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Nothing: write whatever is there.
    None,
    /// The song is stored with this etag.
    Etag(String),
    /// No song has the key yet.
    Absent,
}

impl Precondition {
    /// From a request's `etag` and `only_if_absent`: at most one of them.
    pub fn parse(etag: String, only_if_absent: bool) -> Result<Self, Violation> {
        match (etag.is_empty(), only_if_absent) {
            (true, false) => Ok(Self::None),
            (false, false) => Ok(Self::Etag(etag)),
            (true, true) => Ok(Self::Absent),
            (false, true) => Err(Violation::new(
                "only_if_absent",
                "etag and only_if_absent cannot both be set: a song that does not exist has no etag",
            )),
        }
    }
}

/// A table to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTable {
    pub name: TableName,
    pub throughput: Throughput,
}

/// A song addressed in a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    pub table: TableName,
    pub key: SongKey,
}

/// A song to write into a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemWrite {
    pub table: TableName,
    pub song: Song,
    pub precondition: Precondition,
}

/// A song to delete from a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemDelete {
    pub item: ItemRef,
    pub precondition: Precondition,
}

/// The songs of one artist (`Some`), or of the whole table (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SongScope {
    pub table: TableName,
    pub artist: Option<String>,
}

/// One page request of ListSongs: 1 to 1000 songs of an artist, after a song title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SongPage {
    pub table: TableName,
    pub artist: String,
    pub limit: usize,
    /// The page token as sent; opened against (table, artist) by the handler.
    pub token: String,
}

impl SongPage {
    pub const MAX: usize = 1000;
    pub const DEFAULT: usize = 100;
}

/// The most keys a BatchGetSongs may name (DynamoDB's BatchGetItem limit).
pub const MAX_BATCH_GET: usize = 100;
/// The most writes a BatchWriteSongs may hold (DynamoDB's BatchWriteItem limit).
pub const MAX_BATCH_WRITE: usize = 25;

/// Songs to read by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchGet {
    pub table: TableName,
    pub keys: Vec<SongKey>,
}

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchWrite {
    Put(Song),
    Delete(SongKey),
}

impl BatchWrite {
    pub fn key(&self) -> &SongKey {
        match self {
            Self::Put(song) => &song.key,
            Self::Delete(key) => key,
        }
    }
}

/// Writes to make in one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchWrites {
    pub table: TableName,
    pub writes: Vec<BatchWrite>,
}

/// A batch's size, 1 to `max`, or a violation naming `field`.
pub fn batch_size(len: usize, max: usize, field: &'static str) -> Result<(), Violation> {
    if (1..=max).contains(&len) {
        Ok(())
    } else {
        Err(Violation::new(
            field,
            format!("{field} must hold 1 to {max} entries, not {len}"),
        ))
    }
}

/// Provisioned capacity of a new table: at least 1 of each, 5/5 by default as in the tutorial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throughput {
    pub read: i64,
    pub write: i64,
}

impl Default for Throughput {
    fn default() -> Self {
        Self { read: 5, write: 5 }
    }
}

impl Throughput {
    pub fn parse(read: i64, write: i64) -> Result<Self, Violation> {
        for (value, field, name) in [
            (
                read,
                "provisioned_throughput.read_capacity_units",
                "readCapacityUnits",
            ),
            (
                write,
                "provisioned_throughput.write_capacity_units",
                "writeCapacityUnits",
            ),
        ] {
            if value < 1 {
                return Err(Violation::new(
                    field,
                    format!(
                        "1 validation error detected: Value '{value}' at 'provisionedThroughput.{name}' failed to satisfy constraint: Member must have value greater than or equal to 1"
                    ),
                ));
            }
        }
        Ok(Self { read, write })
    }
}

/// One page request of ListTables: 1 to 100 names, after an optional table name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePage {
    pub limit: i32,
    pub after: Option<TableName>,
}

impl TablePage {
    pub const MAX: i32 = 100;

    pub fn parse(page_size: i32, page_token: String) -> Result<Self, Violation> {
        let limit = match page_size {
            0 => Self::MAX,
            1..=Self::MAX => page_size,
            _ => {
                return Err(Violation::new(
                    "page_size",
                    format!(
                        "page_size must be between 0 and {} (0 means {}), got {page_size}",
                        Self::MAX,
                        Self::MAX
                    ),
                ));
            }
        };
        let after = if page_token.is_empty() {
            None
        } else {
            Some(TableName::parse(page_token, "page_token")?)
        };
        Ok(Self { limit, after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(artist: &str, title: &str) -> Result<SongKey, Violation> {
        SongKey::parse(artist.into(), title.into(), ("artist", "song_title"))
    }

    #[test]
    fn an_etag_is_32_hex_digits_of_the_songs_content() {
        let song = |album: Option<&str>| Song {
            key: key("No One You Know", "Call Me Today").unwrap(),
            album_title: album.map(str::to_owned),
        };
        // SHA-256 over the length-prefixed key and the album, first 16 bytes
        // (computed apart from this code, with Python's hashlib).
        assert_eq!(
            song(Some("Somewhat Famous")).etag(),
            "0e8b96f24720a3744cc4f899b58caab8"
        );
        assert_eq!(song(None).etag(), "7c9b8f685b84f4b733e9f80de58aecd0");
        assert_ne!(song(Some("")).etag(), song(None).etag());
    }

    #[test]
    fn table_names_follow_dynamodb_rules() {
        assert!(TableName::parse("Music".into(), "t").is_ok());
        assert!(TableName::parse("a.b-c_1".into(), "t").is_ok());
        assert!(TableName::parse("x".repeat(255), "t").is_ok());
        let short = TableName::parse("ab".into(), "table_name").unwrap_err();
        assert_eq!(short.field, "table_name");
        assert_eq!(
            short.description,
            "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3"
        );
        let long = TableName::parse("x".repeat(256), "t").unwrap_err();
        assert!(
            long.description
                .ends_with("Member must have length less than or equal to 255")
        );
        for bad in ["a/b/c", "has space", "Músic", "semi;colon"] {
            let err = TableName::parse(bad.into(), "t").unwrap_err();
            assert!(
                err.description
                    .ends_with("Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn an_enormous_refused_value_is_echoed_bounded() {
        let err = TableName::parse("é".repeat(100_000), "t").unwrap_err();
        assert!(err.description.len() < 1_000);
    }

    #[test]
    fn key_sizes_are_counted_in_utf8_bytes() {
        assert!(key(&"a".repeat(2048), "t").is_ok());
        assert!(
            key(&"a".repeat(2049), "t")
                .unwrap_err()
                .description
                .contains("2048 bytes")
        );
        // 1025 bytes in 513 characters: the limit is bytes, not characters.
        let title = format!("{}a", "é".repeat(512));
        assert_eq!(title.len(), 1025);
        let err = key("a", &title).unwrap_err();
        assert_eq!(err.field, "song_title");
        assert!(err.description.contains("1024 bytes"));
        assert!(key("a", &"t".repeat(1024)).is_ok());
    }

    #[test]
    fn empty_keys_are_refused_with_the_key_named() {
        let err = key("", "t").unwrap_err();
        assert_eq!(err.field, "artist");
        assert!(err.description.ends_with("Key: Artist"));
        assert!(
            key("a", "")
                .unwrap_err()
                .description
                .ends_with("Key: SongTitle")
        );
    }

    #[test]
    fn items_over_400_kb_are_refused() {
        let k = key("a", "t").unwrap();
        let fixed = ARTIST.len() + 1 + SONG_TITLE.len() + 1 + ALBUM_TITLE.len();
        assert!(
            Song::parse(
                k.clone(),
                "x".repeat(MAX_ITEM_BYTES - fixed),
                "album_title",
                Write::Put
            )
            .is_ok()
        );
        let err = Song::parse(
            k.clone(),
            "x".repeat(MAX_ITEM_BYTES - fixed + 1),
            "album_title",
            Write::Put,
        )
        .unwrap_err();
        assert_eq!(
            err.description,
            "Item size has exceeded the maximum allowed size"
        );
        let err = Song::parse(
            k,
            "x".repeat(MAX_ITEM_BYTES - fixed + 1),
            "album_title",
            Write::Update,
        )
        .unwrap_err();
        assert_eq!(
            err.description,
            "Item size to update has exceeded the maximum allowed size"
        );
    }

    #[test]
    fn key_faults_need_the_table_but_an_oversized_batch_item_does_not() {
        let fault = |field| Violation::new(field, "");
        for field in [
            "artist",
            "song.song_title",
            "keys.artist",
            "writes.put.artist",
        ] {
            assert!(fault(field).needs_the_table(), "{field}");
        }
        // As DynamoDB Local answers BatchWriteItem (ValidationException on a
        // missing table), unlike PutItem (ResourceNotFoundException).
        assert!(!fault(BATCH_PUT_ALBUM_TITLE).needs_the_table());
        assert!(fault("song.album_title").needs_the_table());
        for field in [
            "table_name",
            "keys",
            "writes",
            "page_size",
            "only_if_absent",
        ] {
            assert!(!fault(field).needs_the_table(), "{field}");
        }
    }

    #[test]
    fn throughput_and_pages_are_bounded() {
        assert_eq!(Throughput::default(), Throughput { read: 5, write: 5 });
        assert!(
            Throughput::parse(0, 5)
                .unwrap_err()
                .description
                .contains("readCapacityUnits")
        );
        assert_eq!(TablePage::parse(0, String::new()).unwrap().limit, 100);
        assert!(TablePage::parse(101, String::new()).is_err());
        assert!(TablePage::parse(-1, String::new()).is_err());
        assert_eq!(
            TablePage::parse(0, "ab".into()).unwrap_err().field,
            "page_token"
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn is_name_byte(b: u8) -> bool {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
        }

        /// Characters of every UTF-8 width, so that byte and character counts differ.
        fn text(max_chars: usize) -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    4 => prop::char::range('a', 'z'),
                    1 => prop::char::range('\u{80}', '\u{7ff}'),
                    1 => prop::char::range('\u{800}', '\u{ffff}'),
                    1 => prop::char::range('\u{10000}', '\u{10ffff}'),
                    1 => any::<char>(),
                ],
                0..max_chars,
            )
            .prop_map(|chars| chars.into_iter().collect())
        }

        proptest! {
            #[test]
            fn every_name_of_3_to_255_allowed_characters_is_a_table_name(
                name in "[A-Za-z0-9_.-]{3,255}",
            ) {
                prop_assert_eq!(TableName::parse(name.clone(), "t").map(|n| n.to_string()), Ok(name));
            }

            #[test]
            fn table_names_are_accepted_exactly_when_dynamodb_accepts_them(
                name in prop_oneof![
                    "[A-Za-z0-9_.-]{0,2}",
                    "[A-Za-z0-9_.-]{256,300}",
                    "[A-Za-z0-9_.-]{0,10}[^A-Za-z0-9_.-][A-Za-z0-9_.-]{0,10}",
                    any::<String>(),
                    text(300),
                ],
            ) {
                let chars = name.chars().count();
                let valid = (MIN_TABLE_NAME_LEN..=MAX_TABLE_NAME_LEN).contains(&chars)
                    && name.bytes().all(is_name_byte);
                match TableName::parse(name.clone(), "table_name") {
                    Ok(parsed) => {
                        prop_assert!(valid, "{name:?} accepted");
                        prop_assert_eq!(parsed.as_str(), name.as_str());
                    }
                    Err(violation) => {
                        prop_assert!(!valid, "{name:?} refused: {violation}");
                        prop_assert_eq!(violation.field, "table_name");
                        prop_assert!(violation.description.starts_with("1 validation error detected: Value '"));
                        // The echo is bounded, however long the name.
                        prop_assert!(violation.description.len() <= 300 * 4 + 200, "{}", violation.description.len());
                        let rule = if chars < MIN_TABLE_NAME_LEN {
                            "Member must have length greater than or equal to 3"
                        } else if chars > MAX_TABLE_NAME_LEN {
                            "Member must have length less than or equal to 255"
                        } else {
                            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
                        };
                        prop_assert!(violation.description.ends_with(rule), "{}", violation.description);
                    }
                }
            }

            #[test]
            fn keys_are_accepted_exactly_within_dynamodbs_byte_limits(
                artist in prop_oneof![text(700), "a{2040,2056}"],
                song_title in prop_oneof![text(400), "t{1016,1032}"],
            ) {
                let artist_ok = (1..=MAX_PARTITION_KEY_BYTES).contains(&artist.len());
                let title_ok = (1..=MAX_SORT_KEY_BYTES).contains(&song_title.len());
                match SongKey::parse(artist.clone(), song_title.clone(), ("artist", "song_title")) {
                    Ok(key) => {
                        prop_assert!(artist_ok && title_ok);
                        prop_assert_eq!((key.artist(), key.song_title()), (artist.as_str(), song_title.as_str()));
                    }
                    // The artist is checked first, then the title.
                    Err(violation) => prop_assert_eq!(
                        violation.field,
                        if artist_ok { "song_title" } else { "artist" }
                    ),
                }
            }

            #[test]
            fn items_are_accepted_exactly_up_to_400_kb_of_names_and_values(
                artist in "a{1,64}",
                song_title in "t{1,64}",
                slack in -64i64..=64,
                update in any::<bool>(),
            ) {
                let key = SongKey::parse(artist.clone(), song_title.clone(), ("artist", "song_title")).unwrap();
                let fixed = ARTIST.len() + artist.len() + SONG_TITLE.len() + song_title.len() + ALBUM_TITLE.len();
                let album_len = (MAX_ITEM_BYTES - fixed).saturating_add_signed(slack as isize);
                let write = if update { Write::Update } else { Write::Put };
                let result = Song::parse(key, "x".repeat(album_len), "album_title", write);
                prop_assert_eq!(result.is_ok(), fixed + album_len <= MAX_ITEM_BYTES);
                if let Err(violation) = result {
                    prop_assert_eq!(violation.field, "album_title");
                    prop_assert_eq!(update, violation.description.contains("to update"));
                }
            }

            #[test]
            fn throughput_needs_at_least_one_of_each(read in any::<i64>(), write in any::<i64>()) {
                match Throughput::parse(read, write) {
                    Ok(throughput) => {
                        prop_assert!(read >= 1 && write >= 1);
                        prop_assert_eq!(throughput, Throughput { read, write });
                    }
                    Err(violation) => {
                        prop_assert!(read < 1 || write < 1);
                        let field = if read < 1 {
                            "provisioned_throughput.read_capacity_units"
                        } else {
                            "provisioned_throughput.write_capacity_units"
                        };
                        prop_assert_eq!(violation.field, field);
                    }
                }
            }

            #[test]
            fn pages_hold_0_to_100_names_after_a_valid_table_name(
                page_size in prop_oneof![-2..=102i32, any::<i32>()],
                token in prop_oneof![Just(String::new()), "[A-Za-z0-9_.-]{3,20}", any::<String>()],
            ) {
                let token_ok = token.is_empty() || TableName::parse(token.clone(), "page_token").is_ok();
                match TablePage::parse(page_size, token.clone()) {
                    Ok(page) => {
                        prop_assert!((0..=TablePage::MAX).contains(&page_size) && token_ok);
                        prop_assert_eq!(page.limit, if page_size == 0 { TablePage::MAX } else { page_size });
                        prop_assert_eq!(page.after.map(|n| n.to_string()), (!token.is_empty()).then_some(token));
                    }
                    Err(violation) => {
                        let size_ok = (0..=TablePage::MAX).contains(&page_size);
                        prop_assert!(!size_ok || !token_ok);
                        prop_assert_eq!(violation.field, if size_ok { "page_token" } else { "page_size" });
                    }
                }
            }
        }
    }
}
