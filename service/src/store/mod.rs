//! The one storage path: DynamoDB through aws-sdk-dynamodb, whatever the
//! endpoint (AWS, DynamoDB Local, Alternator, or the embedded dynoxide).
//!
//! DynamoDB's errors are read here and nowhere else: every SDK failure becomes
//! a [`StoreError`] that names the operation, DynamoDB's error code and
//! message, and a [`FailureKind`] the gRPC layer maps in one place.

use std::{collections::HashMap, fmt, sync::OnceLock, time::Duration};

use aws_sdk_dynamodb::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::{
        AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, ProvisionedThroughput,
        ReturnValue, ScalarAttributeType, TableDescription, TableStatus,
    },
};
use strum::VariantArray;
use tokio::time::Instant;

mod batch;
mod songs;
pub mod usage;

use crate::domain::{
    ALBUM_TITLE, ARTIST, Precondition, SONG_TITLE, Song, SongKey, TableName, TablePage, Throughput,
};
use crate::metrics::kept;

/// The DynamoDB operations this service calls, as DynamoDB names them (the
/// `operation` of its ErrorInfo, the label of its metrics). Names come from strum.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::Display, strum::VariantArray,
)]
pub enum Operation {
    CreateTable,
    DeleteTable,
    DescribeTable,
    ListTables,
    PutItem,
    GetItem,
    UpdateItem,
    DeleteItem,
    Query,
    Scan,
    BatchGetItem,
    BatchWriteItem,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What went wrong, in the terms the error mapping needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// ResourceNotFoundException: no such table.
    ResourceNotFound,
    /// ResourceInUseException: the table exists, or is being created or deleted.
    ResourceInUse,
    /// ValidationException: DynamoDB refused the request's values.
    Validation,
    /// ConditionalCheckFailedException of a condition the caller asked for
    /// as "only if absent", or of one it did not ask for.
    ConditionFailed,
    /// ConditionalCheckFailedException of the caller's etag: the song is no
    /// longer stored as the caller last read it.
    EtagMismatch,
    /// Throttling of any kind; worth retrying later.
    Throttled,
    /// DynamoDB failed or could not be reached (5xx, connection refused or reset).
    Unavailable,
    /// The call's time budget ran out.
    Timeout,
    /// DynamoDB refused this service's credentials or permissions.
    CredentialsRejected,
    /// A table did not reach the wanted state within the bounded wait.
    TableNotReady,
    /// Anything else DynamoDB said no to: a bug of ours rather than the caller's.
    Other,
}

/// A failed store call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed with {code}: {message}")]
pub struct StoreError {
    pub operation: Operation,
    pub kind: FailureKind,
    /// DynamoDB's error code (e.g. `ResourceNotFoundException`), or a
    /// descriptive code of ours for failures DynamoDB never answered.
    pub code: String,
    pub message: String,
    /// True when DynamoDB itself answered with this error; false when the
    /// failure is the service's own (no answer, timeout, bounded wait).
    pub dynamodb_answered: bool,
}

impl StoreError {
    fn new(
        operation: Operation,
        kind: FailureKind,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            operation,
            kind,
            code: code.to_owned(),
            message: message.into(),
            dynamodb_answered: false,
        }
    }

    fn answered(mut self) -> Self {
        self.dynamodb_answered = true;
        self
    }

    /// The caller's etag does not match the song as stored, found by the
    /// service or by DynamoDB's condition: answered as DynamoDB answers a
    /// failed condition, so that every client reads it the same way.
    fn etag_mismatch(operation: Operation) -> Self {
        Self::new(
            operation,
            FailureKind::EtagMismatch,
            CONDITIONAL_CHECK_FAILED,
            "The conditional request failed",
        )
        .answered()
    }

    /// DynamoDB's answer that the table does not exist, for answering a call
    /// on a missing table as DynamoDB would before looking at its other faults.
    pub fn table_not_found(operation: Operation) -> Self {
        Self::new(
            operation,
            FailureKind::ResourceNotFound,
            "ResourceNotFoundException",
            "Requested resource not found",
        )
        .answered()
    }

    /// Reads an SDK failure. The only place DynamoDB error codes are matched.
    fn from_sdk<E, R>(operation: Operation, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        match &error {
            SdkError::ServiceError(context) => {
                let err = context.err();
                let code = err.code().unwrap_or("UnknownError");
                let message = err.message().unwrap_or("").to_owned();
                Self::new(operation, classify_code(code), code, message).answered()
            }
            SdkError::TimeoutError(_) => Self::new(
                operation,
                FailureKind::Timeout,
                "TimeoutError",
                "DynamoDB did not answer within the service's time budget",
            ),
            SdkError::DispatchFailure(failure) => {
                let (kind, code) = if failure.is_timeout() {
                    (FailureKind::Timeout, "TimeoutError")
                } else {
                    (FailureKind::Unavailable, "ConnectionError")
                };
                // The cause (addresses, OS errors) is for the operator's log;
                // callers learn what failed, not the service's network layout.
                tracing::warn!(%operation, error = %error_chain(&error), "DynamoDB could not be reached");
                Self::new(
                    operation,
                    kind,
                    code,
                    "DynamoDB could not be reached; try again shortly",
                )
            }
            SdkError::ResponseError(_) => {
                tracing::warn!(%operation, error = %error_chain(&error), "DynamoDB sent an unreadable response");
                Self::new(
                    operation,
                    FailureKind::Unavailable,
                    "ResponseError",
                    "DynamoDB sent an unreadable response; try again shortly",
                )
            }
            // ConstructionFailure, and variants the SDK may add (the enum is non-exhaustive).
            _ => Self::new(
                operation,
                FailureKind::Other,
                "RequestConstructionFailure",
                format!("the request could not be built: {}", error_chain(&error)),
            ),
        }
    }
}

/// DynamoDB's documented error codes, grouped by what the caller can do about them.
fn classify_code(code: &str) -> FailureKind {
    match code {
        "ResourceNotFoundException" | "TableNotFoundException" => FailureKind::ResourceNotFound,
        "ResourceInUseException" | "TableAlreadyExistsException" | "TableInUseException" => {
            FailureKind::ResourceInUse
        }
        "ValidationException" | "SerializationException" => FailureKind::Validation,
        CONDITIONAL_CHECK_FAILED => FailureKind::ConditionFailed,
        "ProvisionedThroughputExceededException"
        | "RequestLimitExceeded"
        | "ThrottlingException"
        | "LimitExceededException"
        | "TransactionConflictException" => FailureKind::Throttled,
        "InternalServerError" | "InternalFailure" | "ServiceUnavailable" => {
            FailureKind::Unavailable
        }
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "MissingAuthenticationTokenException"
        | "IncompleteSignatureException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "AccessDeniedException" => FailureKind::CredentialsRejected,
        _ => FailureKind::Other,
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A table as DescribeTable reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    pub name: String,
    pub status: Option<TableStatus>,
    pub key_schema: Vec<(String, KeyType)>,
    pub item_count: i64,
    pub created_at: Option<std::time::SystemTime>,
    pub throughput: Option<Throughput>,
    pub arn: String,
}

impl From<&TableDescription> for TableInfo {
    fn from(table: &TableDescription) -> Self {
        Self {
            name: table.table_name().unwrap_or_default().to_owned(),
            status: table.table_status().cloned(),
            key_schema: table
                .key_schema()
                .iter()
                .map(|k| (k.attribute_name().to_owned(), k.key_type().clone()))
                .collect(),
            item_count: table.item_count().unwrap_or(0),
            created_at: table
                .creation_date_time()
                .and_then(|t| std::time::SystemTime::try_from(*t).ok()),
            throughput: table.provisioned_throughput().map(|p| Throughput {
                read: p.read_capacity_units().unwrap_or(0),
                write: p.write_capacity_units().unwrap_or(0),
            }),
            arn: table.table_arn().unwrap_or_default().to_owned(),
        }
    }
}

/// One page of table names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub names: Vec<String>,
    pub last: Option<String>,
}

/// DynamoDB, as the service uses it.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table_wait: Duration,
}

/// DynamoDB's error code of a failed ConditionExpression.
const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailedException";

/// A write's ConditionExpression with the names and values it uses.
#[derive(Debug, Default)]
struct Condition {
    expression: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
}

impl Precondition {
    /// A failed condition, read for what the caller asked: a failed etag
    /// check is an etag mismatch (ABORTED), not "exists" (ALREADY_EXISTS).
    fn failed(&self, error: StoreError) -> StoreError {
        match (self, error.kind) {
            (Precondition::Etag(_), FailureKind::ConditionFailed) => StoreError {
                kind: FailureKind::EtagMismatch,
                ..error
            },
            _ => error,
        }
    }
}

/// How often a table's status is polled while waiting, growing to the cap.
const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(1);

impl Store {
    pub fn new(client: Client, table_wait: Duration) -> Self {
        Self { client, table_wait }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates a table with the tutorial's schema and waits until it is ACTIVE.
    pub async fn create_table(
        &self,
        name: &TableName,
        throughput: Throughput,
    ) -> Result<TableInfo, StoreError> {
        const OP: Operation = Operation::CreateTable;
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition has its required fields")
        };
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .expect("key schema element has its required fields")
        };
        let created = self
            .client
            .create_table()
            .table_name(name.as_str())
            .attribute_definitions(attribute(ARTIST))
            .attribute_definitions(attribute(SONG_TITLE))
            .key_schema(key(ARTIST, KeyType::Hash))
            .key_schema(key(SONG_TITLE, KeyType::Range))
            .provisioned_throughput(
                ProvisionedThroughput::builder()
                    .read_capacity_units(throughput.read)
                    .write_capacity_units(throughput.write)
                    .build()
                    .expect("throughput has its required fields"),
            )
            .send()
            .observed(OP)
            .await?;
        if let Some(table) = created.table_description()
            && table.table_status() == Some(&TableStatus::Active)
        {
            return Ok(table.into());
        }
        self.wait_for_table(OP, name, true)
            .await
            .map(|t| t.expect("waited for presence"))
    }

    /// Deletes a table and waits until it is gone; returns it as it was.
    pub async fn delete_table(&self, name: &TableName) -> Result<TableInfo, StoreError> {
        const OP: Operation = Operation::DeleteTable;
        let deleted = self
            .client
            .delete_table()
            .table_name(name.as_str())
            .send()
            .observed(OP)
            .await?;
        let info = deleted
            .table_description()
            .map(TableInfo::from)
            .unwrap_or_else(|| TableInfo {
                name: name.to_string(),
                status: Some(TableStatus::Deleting),
                key_schema: Vec::new(),
                item_count: 0,
                created_at: None,
                throughput: None,
                arn: String::new(),
            });
        self.wait_for_table(OP, name, false).await?;
        Ok(info)
    }

    pub async fn describe_table(&self, name: &TableName) -> Result<TableInfo, StoreError> {
        self.describe(Operation::DescribeTable, name)
            .await?
            .ok_or_else(|| {
                StoreError::new(
                    Operation::DescribeTable,
                    FailureKind::ResourceNotFound,
                    "ResourceNotFoundException",
                    format!("Requested resource not found: Table: {name} not found"),
                )
                .answered()
            })
    }

    pub async fn list_tables(&self, page: &TablePage) -> Result<TableNames, StoreError> {
        let listed = self
            .client
            .list_tables()
            .limit(page.limit)
            .set_exclusive_start_table_name(page.after.as_ref().map(|t| t.to_string()))
            .send()
            .observed(Operation::ListTables)
            .await?;
        Ok(TableNames {
            names: listed.table_names().to_vec(),
            last: listed.last_evaluated_table_name().map(str::to_owned),
        })
    }

    /// Reads a song. Strongly consistent, so a caller reads what it just wrote.
    pub async fn get_item(
        &self,
        table: &TableName,
        key: &SongKey,
    ) -> Result<Option<Song>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(table.as_str())
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .observed(Operation::GetItem)
            .await?;
        Ok(got.item().map(|item| song_from_item(item, key)))
    }

    /// Writes a song under `precondition`; true when it replaced one.
    pub async fn put_item(
        &self,
        table: &TableName,
        song: &Song,
        precondition: &Precondition,
    ) -> Result<bool, StoreError> {
        const OP: Operation = Operation::PutItem;
        let mut item = key_attributes(&song.key);
        if let Some(album) = &song.album_title {
            item.insert(ALBUM_TITLE.to_owned(), AttributeValue::S(album.clone()));
        }
        let condition = self.condition(OP, table, &song.key, precondition).await?;
        let put = self
            .client
            .put_item()
            .table_name(table.as_str())
            .set_item(Some(item))
            .return_values(ReturnValue::AllOld)
            .set_condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names)
            .set_expression_attribute_values(condition.values)
            .send()
            .observed(OP)
            .await
            .map_err(|e| precondition.failed(e))?;
        Ok(put.attributes().is_some_and(|a| !a.is_empty()))
    }

    /// Sets a song's album title under `precondition`, creating the song when
    /// absent (DynamoDB's upsert); the song as stored.
    pub async fn update_item(
        &self,
        table: &TableName,
        song: &Song,
        precondition: &Precondition,
    ) -> Result<Song, StoreError> {
        const OP: Operation = Operation::UpdateItem;
        let album = song.album_title.clone().unwrap_or_default();
        let condition = self.condition(OP, table, &song.key, precondition).await?;
        let mut names = condition.names.unwrap_or_default();
        names.insert("#AT".to_owned(), ALBUM_TITLE.to_owned());
        let mut values = condition.values.unwrap_or_default();
        values.insert(":t".to_owned(), AttributeValue::S(album));
        let updated = self
            .client
            .update_item()
            .table_name(table.as_str())
            .set_key(Some(key_attributes(&song.key)))
            .update_expression("SET #AT = :t")
            .set_condition_expression(condition.expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .observed(OP)
            .await
            .map_err(|e| precondition.failed(e))?;
        Ok(updated
            .attributes()
            .map(|item| song_from_item(item, &song.key))
            .unwrap_or_else(|| song.clone()))
    }

    /// Deletes a song under `precondition`; true when there was one.
    pub async fn delete_item(
        &self,
        table: &TableName,
        key: &SongKey,
        precondition: &Precondition,
    ) -> Result<bool, StoreError> {
        const OP: Operation = Operation::DeleteItem;
        let condition = self.condition(OP, table, key, precondition).await?;
        let deleted = self
            .client
            .delete_item()
            .table_name(table.as_str())
            .set_key(Some(key_attributes(key)))
            .return_values(ReturnValue::AllOld)
            .set_condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names)
            .set_expression_attribute_values(condition.values)
            .send()
            .observed(OP)
            .await
            .map_err(|e| precondition.failed(e))?;
        Ok(deleted.attributes().is_some_and(|a| !a.is_empty()))
    }

    /// The ConditionExpression that makes a write hold only under
    /// `precondition`. An etag names content, which DynamoDB cannot hash: the
    /// song is read (strongly consistent) and its etag compared; the write is
    /// then conditioned on exactly the content read, so a writer that came in
    /// between makes DynamoDB refuse it. Either refusal is an etag mismatch.
    async fn condition(
        &self,
        op: Operation,
        table: &TableName,
        key: &SongKey,
        precondition: &Precondition,
    ) -> Result<Condition, StoreError> {
        let names = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(n, a)| ((*n).to_owned(), (*a).to_owned()))
                    .collect::<HashMap<_, _>>(),
            )
        };
        Ok(match precondition {
            Precondition::None => Condition::default(),
            Precondition::Absent => Condition {
                expression: Some("attribute_not_exists(#A)".to_owned()),
                names: names(&[("#A", ARTIST)]),
                values: None,
            },
            Precondition::Etag(etag) => {
                let current = self
                    .get_item(table, key)
                    .await
                    .map_err(|e| StoreError { operation: op, ..e })?;
                match current {
                    Some(song) if song.etag() == *etag => match song.album_title {
                        Some(album) => Condition {
                            expression: Some("attribute_exists(#A) AND #PA = :pa".to_owned()),
                            names: names(&[("#A", ARTIST), ("#PA", ALBUM_TITLE)]),
                            values: Some(HashMap::from([(
                                ":pa".to_owned(),
                                AttributeValue::S(album),
                            )])),
                        },
                        None => Condition {
                            expression: Some(
                                "attribute_exists(#A) AND attribute_not_exists(#PA)".to_owned(),
                            ),
                            names: names(&[("#A", ARTIST), ("#PA", ALBUM_TITLE)]),
                            values: None,
                        },
                    },
                    _ => return Err(StoreError::etag_mismatch(op)),
                }
            }
        })
    }

    /// A cheap call that shows the store answers (readiness).
    pub async fn probe(&self) -> Result<(), StoreError> {
        self.client
            .list_tables()
            .limit(1)
            .send()
            .observed(Operation::ListTables)
            .await
            .map(|_| ())
    }

    /// Whether the table exists (DescribeTable), any failure reported as `op`'s.
    pub async fn table_exists(&self, op: Operation, name: &TableName) -> Result<bool, StoreError> {
        Ok(self.describe(op, name).await?.is_some())
    }

    /// DescribeTable, with "no such table" as `None`. Metrics count it as the
    /// DescribeTable it is; a failure is reported as part of `op` (the call
    /// the caller made, e.g. the CreateTable whose table is being awaited).
    async fn describe(
        &self,
        op: Operation,
        name: &TableName,
    ) -> Result<Option<TableInfo>, StoreError> {
        match self
            .client
            .describe_table()
            .table_name(name.as_str())
            .send()
            .observed(Operation::DescribeTable)
            .await
        {
            Ok(described) => Ok(described.table().map(TableInfo::from)),
            Err(error) if error.kind == FailureKind::ResourceNotFound => Ok(None),
            Err(error) => Err(StoreError {
                operation: op,
                ..error
            }),
        }
    }

    /// Polls until the table is ACTIVE (`present`) or gone (`!present`),
    /// within the bounded wait.
    async fn wait_for_table(
        &self,
        op: Operation,
        name: &TableName,
        present: bool,
    ) -> Result<Option<TableInfo>, StoreError> {
        let deadline = Instant::now() + self.table_wait;
        let mut pause = FIRST_POLL;
        loop {
            let table = self.describe(op, name).await?;
            let last_status = match &table {
                None if !present => return Ok(None),
                Some(t) if present && t.status == Some(TableStatus::Active) => return Ok(table),
                None => "absent".to_owned(),
                Some(t) => t
                    .status
                    .as_ref()
                    .map_or("unknown", |s| s.as_str())
                    .to_owned(),
            };
            let now = Instant::now();
            if now >= deadline {
                let wanted = if present { "ACTIVE" } else { "deleted" };
                return Err(StoreError::new(
                    op,
                    FailureKind::TableNotReady,
                    "TableNotReady",
                    format!(
                        "table {name} is still {last_status} after {}s; it was not {wanted} in time (the {op} request itself was accepted)",
                        self.table_wait.as_secs()
                    ),
                ));
            }
            // The last poll lands on the deadline itself, so the whole wait is used.
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }
}

/// Every DynamoDB call goes through here: its SDK error becomes a
/// [`StoreError`], and its outcome (`ok` or DynamoDB's error code) and latency
/// are recorded by operation.
trait Observed<T, E, R>: Future<Output = Result<T, SdkError<E, R>>> + Sized
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    /// The SDK's call is put on the heap first. Its future holds the whole
    /// orchestrator, kilobytes; held inline, it made every future around it
    /// (the store call, the RPC, the future tonic boxes) as large, and each
    /// was copied whole when moved: tonic's boxing of the GetItem future
    /// alone copied 11.7 k instructions' worth, and boxing the call here
    /// took a GetItem from 356.4 k to 343.1 k (callgrind, BENCHMARKS.md).
    fn observed(self, operation: Operation) -> impl Future<Output = Result<T, StoreError>> {
        let call = Box::pin(self);
        async move {
            let started = std::time::Instant::now();
            let result = call.await;
            record(operation, started, result)
        }
    }
}

/// `result` of a call of `operation` as the store answers it, counted.
fn record<T, E, R>(
    operation: Operation,
    started: std::time::Instant,
    result: Result<T, SdkError<E, R>>,
) -> Result<T, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let result = result.map_err(|e| StoreError::from_sdk(operation, e));
    let name = operation.as_str();
    match &result {
        Ok(_) => kept(&CALLS_OK[operation as usize], || {
            metrics::counter!(crate::metrics::DYNAMODB_CALLS, "operation" => name, "outcome" => "ok")
        })
        .increment(1),
        // Failures are rare, and their codes many: looked up each time.
        Err(error) => metrics::counter!(crate::metrics::DYNAMODB_CALLS, "operation" => name, "outcome" => error.code.clone())
            .increment(1),
    }
    kept(
        &CALL_DURATIONS[operation as usize],
        || metrics::histogram!(crate::metrics::DYNAMODB_DURATION, "operation" => name),
    )
    .record(started.elapsed().as_secs_f64());
    result
}

/// Each operation's count of successful calls and its latency, registered
/// when first used (`crate::metrics::kept`).
static CALLS_OK: [OnceLock<metrics::Counter>; Operation::VARIANTS.len()] =
    [const { OnceLock::new() }; Operation::VARIANTS.len()];
static CALL_DURATIONS: [OnceLock<metrics::Histogram>; Operation::VARIANTS.len()] =
    [const { OnceLock::new() }; Operation::VARIANTS.len()];

impl<F, T, E, R> Observed<T, E, R> for F
where
    F: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
}

pub(crate) fn key_attributes(key: &SongKey) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            ARTIST.to_owned(),
            AttributeValue::S(key.artist().to_owned()),
        ),
        (
            SONG_TITLE.to_owned(),
            AttributeValue::S(key.song_title().to_owned()),
        ),
    ])
}

/// A stored item read by Query, Scan or BatchGetItem as a song; `None` for an
/// item without the tutorial's key attributes (another program's item).
fn stored_song(item: &HashMap<String, AttributeValue>) -> Option<Song> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    Some(Song {
        key: SongKey::from_stored(text(ARTIST)?, text(SONG_TITLE)?),
        album_title: text(ALBUM_TITLE),
    })
}

/// A stored item as a song. Key attributes always exist on a stored item; the
/// requested key stands in should a store ever answer without them.
fn song_from_item(item: &HashMap<String, AttributeValue>, key: &SongKey) -> Song {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    Song {
        key: SongKey::from_stored(
            text(ARTIST).unwrap_or_else(|| key.artist().to_owned()),
            text(SONG_TITLE).unwrap_or_else(|| key.song_title().to_owned()),
        ),
        album_title: text(ALBUM_TITLE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_error_codes_are_classified() {
        for (code, kind) in properties::KNOWN {
            assert_eq!(classify_code(code), kind, "{code}");
        }
        assert_eq!(classify_code("SomethingNew"), FailureKind::Other);
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::{FailureKind, classify_code};

        /// Every code DynamoDB documents that the store reads, with its kind.
        pub(super) const KNOWN: [(&str, FailureKind); 23] = [
            ("ResourceNotFoundException", FailureKind::ResourceNotFound),
            ("TableNotFoundException", FailureKind::ResourceNotFound),
            ("ResourceInUseException", FailureKind::ResourceInUse),
            ("TableAlreadyExistsException", FailureKind::ResourceInUse),
            ("TableInUseException", FailureKind::ResourceInUse),
            ("ValidationException", FailureKind::Validation),
            ("SerializationException", FailureKind::Validation),
            (
                "ConditionalCheckFailedException",
                FailureKind::ConditionFailed,
            ),
            (
                "ProvisionedThroughputExceededException",
                FailureKind::Throttled,
            ),
            ("RequestLimitExceeded", FailureKind::Throttled),
            ("ThrottlingException", FailureKind::Throttled),
            ("LimitExceededException", FailureKind::Throttled),
            ("TransactionConflictException", FailureKind::Throttled),
            ("InternalServerError", FailureKind::Unavailable),
            ("InternalFailure", FailureKind::Unavailable),
            ("ServiceUnavailable", FailureKind::Unavailable),
            (
                "UnrecognizedClientException",
                FailureKind::CredentialsRejected,
            ),
            (
                "InvalidSignatureException",
                FailureKind::CredentialsRejected,
            ),
            (
                "MissingAuthenticationTokenException",
                FailureKind::CredentialsRejected,
            ),
            (
                "IncompleteSignatureException",
                FailureKind::CredentialsRejected,
            ),
            ("ExpiredTokenException", FailureKind::CredentialsRejected),
            ("InvalidClientTokenId", FailureKind::CredentialsRejected),
            ("AccessDeniedException", FailureKind::CredentialsRejected),
        ];

        proptest! {
            /// Any code, known or not, is classified (never a panic); only
            /// the exact documented spellings get a kind other than Other.
            #[test]
            fn classify_code_is_total_and_exact(
                code in prop_oneof![
                    prop::sample::select(KNOWN.map(|(code, _)| code.to_owned()).to_vec()),
                    prop::sample::select(KNOWN.map(|(code, _)| code.to_owned()).to_vec())
                        .prop_map(|code| code.to_lowercase()),
                    prop::sample::select(KNOWN.map(|(code, _)| code.to_owned()).to_vec())
                        .prop_map(|code| format!(" {code}")),
                    any::<String>(),
                ],
            ) {
                let expected = KNOWN
                    .iter()
                    .find(|(known, _)| *known == code)
                    .map_or(FailureKind::Other, |(_, kind)| *kind);
                prop_assert_eq!(classify_code(&code), expected, "{:?}", code);
            }
        }
    }
}
