//! Every protobuf ↔ domain mapping, side by side: requests become checked
//! domain values through `TryFrom` (a [`Violation`] names the refused field;
//! the handler adds the operation), results become protobuf through `From`. A
//! new field is one diff in this file.

use aws_sdk_dynamodb::types::{KeyType, TableStatus};
use music_api::pb;

use crate::{
    domain::{
        BATCH_PUT_ALBUM_TITLE, BatchGet, BatchWrite, BatchWrites, ItemDelete, ItemRef, ItemWrite,
        MAX_BATCH_GET, MAX_BATCH_WRITE, NewTable, Precondition, Song, SongKey, SongPage, SongScope,
        TableName, TablePage, Throughput, Violation, Write, batch_size, check_artist,
        check_item_size,
    },
    store::{TableInfo, TableNames},
};

impl TryFrom<pb::CreateTableRequest> for NewTable {
    type Error = Violation;

    fn try_from(request: pb::CreateTableRequest) -> Result<Self, Violation> {
        let name = TableName::parse(request.table_name, "table_name")?;
        let throughput = match request.provisioned_throughput {
            None => Throughput::default(),
            Some(t) => Throughput::parse(t.read_capacity_units, t.write_capacity_units)?,
        };
        Ok(Self { name, throughput })
    }
}

impl TryFrom<pb::DeleteTableRequest> for TableName {
    type Error = Violation;

    fn try_from(request: pb::DeleteTableRequest) -> Result<Self, Violation> {
        TableName::parse(request.table_name, "table_name")
    }
}

impl TryFrom<pb::DescribeTableRequest> for TableName {
    type Error = Violation;

    fn try_from(request: pb::DescribeTableRequest) -> Result<Self, Violation> {
        TableName::parse(request.table_name, "table_name")
    }
}

impl TryFrom<pb::ListTablesRequest> for TablePage {
    type Error = Violation;

    fn try_from(request: pb::ListTablesRequest) -> Result<Self, Violation> {
        TablePage::parse(request.page_size, request.page_token)
    }
}

/// The key of a song addressed by top-level `artist` and `song_title` fields.
fn item_ref(table_name: String, artist: String, song_title: String) -> Result<ItemRef, Violation> {
    Ok(ItemRef {
        table: TableName::parse(table_name, "table_name")?,
        key: SongKey::parse(artist, song_title, ("artist", "song_title"))?,
    })
}

impl TryFrom<pb::GetItemRequest> for ItemRef {
    type Error = Violation;

    fn try_from(request: pb::GetItemRequest) -> Result<Self, Violation> {
        item_ref(request.table_name, request.artist, request.song_title)
    }
}

impl TryFrom<pb::DeleteItemRequest> for ItemDelete {
    type Error = Violation;

    fn try_from(request: pb::DeleteItemRequest) -> Result<Self, Violation> {
        Ok(Self {
            item: item_ref(request.table_name, request.artist, request.song_title)?,
            precondition: Precondition::parse(request.etag, false)?,
        })
    }
}

impl TryFrom<pb::PutItemRequest> for ItemWrite {
    type Error = Violation;

    fn try_from(request: pb::PutItemRequest) -> Result<Self, Violation> {
        let table = TableName::parse(request.table_name, "table_name")?;
        let song = request.song.unwrap_or_default();
        let key = SongKey::parse(
            song.artist,
            song.song_title,
            ("song.artist", "song.song_title"),
        )?;
        let song = Song::parse(
            key,
            song.album_title.unwrap_or_default(),
            "song.album_title",
            Write::Put,
        )?;
        let precondition = Precondition::parse(request.etag, request.only_if_absent)?;
        Ok(Self {
            table,
            song,
            precondition,
        })
    }
}

impl TryFrom<pb::UpdateItemRequest> for ItemWrite {
    type Error = Violation;

    fn try_from(request: pb::UpdateItemRequest) -> Result<Self, Violation> {
        let ItemRef { table, key } =
            item_ref(request.table_name, request.artist, request.song_title)?;
        let song = Song::parse(key, request.album_title, "album_title", Write::Update)?;
        let precondition = Precondition::parse(request.etag, false)?;
        Ok(Self {
            table,
            song,
            precondition,
        })
    }
}

impl TryFrom<pb::ListSongsRequest> for SongPage {
    type Error = Violation;

    fn try_from(request: pb::ListSongsRequest) -> Result<Self, Violation> {
        let table = TableName::parse(request.table_name, "table_name")?;
        check_artist(&request.artist, "artist")?;
        let limit = match usize::try_from(request.page_size) {
            Ok(0) => SongPage::DEFAULT,
            Ok(size @ 1..=SongPage::MAX) => size,
            _ => {
                return Err(Violation::new(
                    "page_size",
                    format!(
                        "page_size must be between 0 and {} (0 means {}), got {}",
                        SongPage::MAX,
                        SongPage::DEFAULT,
                        request.page_size
                    ),
                ));
            }
        };
        Ok(Self {
            table,
            artist: request.artist,
            limit,
            token: request.page_token,
        })
    }
}

impl TryFrom<pb::StreamSongsRequest> for SongScope {
    type Error = Violation;

    fn try_from(request: pb::StreamSongsRequest) -> Result<Self, Violation> {
        let table = TableName::parse(request.table_name, "table_name")?;
        let artist = if request.artist.is_empty() {
            None
        } else {
            check_artist(&request.artist, "artist")?;
            Some(request.artist)
        };
        Ok(Self { table, artist })
    }
}

impl TryFrom<pb::SongKey> for SongKey {
    type Error = Violation;

    fn try_from(key: pb::SongKey) -> Result<Self, Violation> {
        SongKey::parse(
            key.artist,
            key.song_title,
            ("keys.artist", "keys.song_title"),
        )
    }
}

impl TryFrom<pb::BatchGetSongsRequest> for BatchGet {
    type Error = Violation;

    fn try_from(request: pb::BatchGetSongsRequest) -> Result<Self, Violation> {
        let table = TableName::parse(request.table_name, "table_name")?;
        batch_size(request.keys.len(), MAX_BATCH_GET, "keys")?;
        let keys = request
            .keys
            .into_iter()
            .map(SongKey::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Self { table, keys })
    }
}

impl TryFrom<pb::SongWrite> for BatchWrite {
    type Error = Violation;

    fn try_from(write: pb::SongWrite) -> Result<Self, Violation> {
        use pb::song_write::Write as Kind;
        match write.write {
            Some(Kind::Put(song)) => {
                let key = SongKey::parse(
                    song.artist,
                    song.song_title,
                    ("writes.put.artist", "writes.put.song_title"),
                )?;
                Ok(Self::Put(Song::parse(
                    key,
                    song.album_title.unwrap_or_default(),
                    BATCH_PUT_ALBUM_TITLE,
                    Write::Put,
                )?))
            }
            Some(Kind::Delete(key)) => Ok(Self::Delete(SongKey::parse(
                key.artist,
                key.song_title,
                ("writes.delete.artist", "writes.delete.song_title"),
            )?)),
            None => Err(Violation::new(
                "writes",
                "each write must be a put or a delete",
            )),
        }
    }
}

impl TryFrom<pb::BatchWriteSongsRequest> for BatchWrites {
    type Error = Violation;

    fn try_from(request: pb::BatchWriteSongsRequest) -> Result<Self, Violation> {
        let table = TableName::parse(request.table_name, "table_name")?;
        batch_size(request.writes.len(), MAX_BATCH_WRITE, "writes")?;
        // DynamoDB refuses an oversized item of a batch before it judges any
        // key (or looks for the table), so every put's size is checked first
        // (the dataplane suite's precedence test, against DynamoDB Local).
        for write in &request.writes {
            if let Some(pb::song_write::Write::Put(song)) = &write.write {
                check_item_size(
                    &song.artist,
                    &song.song_title,
                    song.album_title.as_deref().unwrap_or_default(),
                    BATCH_PUT_ALBUM_TITLE,
                    Write::Put,
                )?;
            }
        }
        let writes = request
            .writes
            .into_iter()
            .map(BatchWrite::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Self { table, writes })
    }
}

impl From<Song> for pb::Song {
    fn from(song: Song) -> Self {
        let etag = song.etag();
        let (artist, song_title) = song.key.into_parts();
        Self {
            artist,
            song_title,
            album_title: song.album_title,
            etag,
        }
    }
}

impl From<SongKey> for pb::SongKey {
    fn from(key: SongKey) -> Self {
        let (artist, song_title) = key.into_parts();
        Self { artist, song_title }
    }
}

/// A write DynamoDB left unprocessed, back as the caller sent it.
impl From<BatchWrite> for pb::SongWrite {
    fn from(write: BatchWrite) -> Self {
        use pb::song_write::Write as Kind;
        Self {
            write: Some(match write {
                // Without an etag: an etag names stored content, and this put
                // was not stored (the dataplane suite's unprocessed-writes
                // test found the etag of a song never written here).
                BatchWrite::Put(song) => Kind::Put(pb::Song {
                    etag: String::new(),
                    ..song.into()
                }),
                BatchWrite::Delete(key) => Kind::Delete(key.into()),
            }),
        }
    }
}

impl From<TableNames> for pb::ListTablesResponse {
    fn from(page: TableNames) -> Self {
        Self {
            table_names: page.names,
            next_page_token: page.last.unwrap_or_default(),
        }
    }
}

impl From<TableInfo> for pb::Table {
    fn from(table: TableInfo) -> Self {
        let status = match table.status {
            Some(TableStatus::Creating) => pb::TableStatus::Creating,
            Some(TableStatus::Updating) => pb::TableStatus::Updating,
            Some(TableStatus::Deleting) => pb::TableStatus::Deleting,
            Some(TableStatus::Active) => pb::TableStatus::Active,
            Some(TableStatus::Archiving) => pb::TableStatus::Archiving,
            Some(TableStatus::Archived) => pb::TableStatus::Archived,
            Some(TableStatus::InaccessibleEncryptionCredentials) => {
                pb::TableStatus::InaccessibleEncryptionCredentials
            }
            // Statuses newer than this code, and none at all.
            _ => pb::TableStatus::Unspecified,
        };
        Self {
            name: table.name,
            status: status.into(),
            key_schema: table
                .key_schema
                .into_iter()
                .map(|(attribute_name, key_type)| pb::KeySchemaElement {
                    attribute_name,
                    key_type: match key_type {
                        KeyType::Hash => pb::KeyType::Hash,
                        KeyType::Range => pb::KeyType::Range,
                        _ => pb::KeyType::Unspecified,
                    }
                    .into(),
                })
                .collect(),
            item_count: table.item_count,
            created_at: table.created_at.map(prost_types::Timestamp::from),
            provisioned_throughput: table.throughput.map(|t| pb::ProvisionedThroughput {
                read_capacity_units: t.read,
                write_capacity_units: t.write,
            }),
            arn: table.arn,
        }
    }
}
