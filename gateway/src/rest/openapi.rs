//! The OpenAPI 3.1 document of both route families, generated at start: the
//! `/v1` routes from the same descriptors they are served from (paths,
//! parameters from the path and the query, request and answer schemas from
//! the messages in proto3 JSON, comments as descriptions, the
//! `google.rpc.Status` error answer, NDJSON for streams, `ETag` and the
//! precondition headers), and the tutorial's routes with their header
//! parameters and exact answers.
//!
//! The document is built as `serde_json` values, so it is valid JSON by
//! construction; its validity as OpenAPI is what `openapi-spec-validator`
//! checks in the tests.

use std::collections::{BTreeMap, BTreeSet};

use http::Method;
use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
};
use serde_json::{Map, Value, json};

use super::{
    routes::{BodyRule, Route, RouteSet},
    stream::NDJSON,
    transcode::{ETAG_FIELD, ONLY_IF_ABSENT_FIELD},
};
use crate::tutorial::{
    params::{Param, ParamError, Wording},
    routes::{Call, Resource, RouteTable},
};

const STATUS_SCHEMA: &str = "google.rpc.Status";
const ANY_SCHEMA: &str = "google.protobuf.Any";
/// The methods an OpenAPI 3.1 path item has a field for.
const OPENAPI_METHODS: [Method; 8] = [
    Method::GET,
    Method::PUT,
    Method::POST,
    Method::DELETE,
    Method::OPTIONS,
    Method::HEAD,
    Method::PATCH,
    Method::TRACE,
];
/// How deep query parameters are listed into nested messages.
const MAX_QUERY_DEPTH: usize = 4;

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The whole document.
pub fn document(routes: &RouteSet, pool: &DescriptorPool, tutorial: &RouteTable) -> Value {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut names_by_shape: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut bindings_seen: BTreeMap<String, usize> = BTreeMap::new();

    // Templates that match the same paths share one OpenAPI path, whose
    // parameters must then have the same names: the plainest template's
    // (`{artist}` rather than `{song.artist}`).
    for route in routes.iter() {
        let shape = route.template.openapi_path(|_, _| String::new());
        let names: Vec<String> = route
            .template
            .variables()
            .iter()
            .map(|v| v.dotted())
            .collect();
        let dots = |names: &[String]| names.iter().filter(|n| n.contains('.')).count();
        let best = names_by_shape.entry(shape).or_insert_with(|| names.clone());
        if dots(&names) < dots(best) {
            *best = names;
        }
    }
    for route in routes.iter() {
        if !OPENAPI_METHODS.contains(&route.method) {
            // OpenAPI 3.1 has a field for each standard method only.
            tracing::warn!(
                rpc = route.rpc.full_name(),
                method = %route.method,
                "a custom HTTP method is served but not in the OpenAPI document"
            );
            continue;
        }
        let shape = route.template.openapi_path(|_, _| String::new());
        let names = names_by_shape[&shape].clone();
        let path = route.template.openapi_path(|n, _| names[n].clone());
        let seen = bindings_seen
            .entry(route.rpc.full_name().to_owned())
            .or_default();
        *seen += 1;
        let operation = operation(route, &names, *seen, &mut schemas);
        paths
            .entry(path)
            .or_default()
            .insert(route.method.as_str().to_ascii_lowercase(), operation);
    }
    tutorial_paths(tutorial, &mut paths);

    let mut components = schemas.finish(pool);
    components.insert(
        "Tutorial.Text".into(),
        json!({"type": "string", "description": "The tutorial's answers are JSON strings, e.g. \"Table created\"."}),
    );
    components.insert(
        "Tutorial.Item".into(),
        json!({
            "type": "object",
            "description": "An item in DynamoDB JSON, key first, as boto3's get_item returns it.",
            "properties": {
                "Artist": {"$ref": "#/components/schemas/Tutorial.StringValue"},
                "SongTitle": {"$ref": "#/components/schemas/Tutorial.StringValue"},
                "AlbumTitle": {"$ref": "#/components/schemas/Tutorial.StringValue"}
            },
            "required": ["Artist", "SongTitle"],
            "additionalProperties": false
        }),
    );
    components.insert(
        "Tutorial.StringValue".into(),
        json!({
            "type": "object",
            "properties": {"S": {"type": "string"}},
            "required": ["S"],
            "additionalProperties": false
        }),
    );

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "music-api",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
        },
        "tags": tags(routes),
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": error_responses(),
        },
    })
}

const DESCRIPTION: &str = "\
Two route families served by music-gateway.\n\n\
**/v1** is the music.v1 gRPC API transcoded from its `google.api.http` annotations, as grpc-gateway \
and Envoy do it. Bodies and answers are proto3 JSON: lowerCamelCase field names out (proto names \
are accepted in), 64-bit integers as strings, enums by name, and fields at their default value left \
out of answers (a missing field is `\"\"`, `0`, `false` or `[]`). Unknown fields are refused. Errors \
are a `google.rpc.Status` with the HTTP status of grpc-gateway's table (412 when an `If-Match` \
precondition failed). `Grpc-Metadata-*` request headers are sent on as gRPC metadata (at most 16, \
each value at most 256 bytes). Streams are NDJSON: one `{\"result\": …}` per line, and a last \
`{\"error\": …}` line when the stream fails after it began.\n\n\
**The tutorial's routes** (tag Tutorial) answer as the tutorial's Lambda functions: JSON strings \
such as `\"Table created\"`, or the item in DynamoDB JSON. Their parameters are looked up, per name, \
in the headers, else the query string, else a JSON object body.";

fn tags(routes: &RouteSet) -> Value {
    let mut seen = BTreeSet::new();
    let mut tags: Vec<Value> = routes
        .iter()
        .filter(|r| seen.insert(r.rpc.parent_service().full_name().to_owned()))
        .map(|r| {
            let service = r.rpc.parent_service();
            let mut tag = json!({"name": service.name()});
            if let Some(text) = comments(&service.parent_file(), service.path()) {
                tag["description"] = json!(text);
            }
            tag
        })
        .collect();
    tags.push(json!({"name": "Tutorial", "description": "The tutorial's six header-based calls."}));
    Value::Array(tags)
}

/// The leading comments of a descriptor, from the file's source info.
fn comments(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location.leading_comments.as_deref()?;
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect();
    let joined = lines.join("\n").trim().to_owned();
    (!joined.is_empty()).then_some(joined)
}

fn describe(schema: &mut Value, text: Option<String>) {
    if let (Some(text), Some(object)) = (text, schema.as_object_mut()) {
        object.insert("description".into(), json!(text));
    }
}

fn operation(route: &Route, names: &[String], binding: usize, schemas: &mut Schemas) -> Value {
    let rpc = &route.rpc;
    let service = rpc.parent_service();
    let input = rpc.input();
    let mut operation_id = format!("{}_{}", service.name(), rpc.name());
    if binding > 1 {
        operation_id.push_str(&binding.to_string());
    }
    let description = comments(&rpc.parent_file(), rpc.path());
    let mut parameters = Vec::new();

    for ((variable, fields), name) in route
        .template
        .variables()
        .iter()
        .zip(&route.bindings)
        .zip(names)
    {
        let leaf = fields.last().expect("a binding names a field");
        let mut schema = schemas.field(leaf);
        if route.template.is_multi_segment(variable) {
            schema["pattern"] = json!(route.template.value_pattern(variable));
            describe(
                &mut schema,
                Some("Spans path segments: its '/' are sent as they are.".into()),
            );
        }
        let mut parameter = json!({
            "name": name,
            "in": "path",
            "required": true,
            "schema": schema,
        });
        describe(
            &mut parameter,
            comments(&leaf.parent_file(), leaf.path())
                .or_else(|| Some(format!("The request's `{}`.", variable.dotted()))),
        );
        parameters.push(parameter);
    }

    if !matches!(route.body, BodyRule::All) {
        let mut excluded: Vec<Vec<FieldDescriptor>> = route.bindings.clone();
        if let BodyRule::Field(body) = &route.body {
            excluded.push(vec![body.clone()]);
        }
        let mut leaves = Vec::new();
        query_leaves(&input, &mut Vec::new(), &excluded, &mut leaves);
        for fields in leaves {
            let leaf = fields.last().expect("a leaf");
            let name = fields
                .iter()
                .map(FieldDescriptor::json_name)
                .collect::<Vec<_>>()
                .join(".");
            let mut parameter = json!({
                "name": name,
                "in": "query",
                "required": false,
                "schema": schemas.field(leaf),
            });
            if leaf.is_list() {
                parameter["style"] = json!("form");
                parameter["explode"] = json!(true);
            }
            describe(&mut parameter, comments(&leaf.parent_file(), leaf.path()));
            parameters.push(parameter);
        }
    }

    let changes = matches!(route.method, Method::PUT | Method::PATCH | Method::DELETE);
    let takes_etag = changes && has_field(&input, ETAG_FIELD, Kind::String);
    if takes_etag {
        parameters.push(json!({
            "name": "If-Match",
            "in": "header",
            "required": false,
            "description": "The etag the resource was read with (its `ETag`): the call is made only if \
                            the resource is still stored with it, else 412. Sets the request's `etag`.",
            "schema": {"type": "string"},
        }));
    }
    if route.method == Method::PUT && has_field(&input, ONLY_IF_ABSENT_FIELD, Kind::Bool) {
        parameters.push(json!({
            "name": "If-None-Match",
            "in": "header",
            "required": false,
            "description": "`*`: write only if nothing is stored under this key yet, else 409 \
                            (ALREADY_EXISTS). Sets the request's `only_if_absent`.",
            "schema": {"type": "string", "enum": ["*"]},
        }));
    }

    let mut operation = json!({
        "operationId": operation_id,
        "tags": [service.name()],
        "summary": description
            .as_deref()
            .and_then(|d| d.split(". ").next())
            .map(|s| s.trim_end_matches('.').to_owned())
            .unwrap_or_else(|| rpc.name().to_owned()),
        "parameters": parameters,
        "responses": responses(route, takes_etag, schemas),
    });
    if let Some(text) = description {
        operation["description"] = json!(format!("{text}\n\ngRPC: `{}`.", route.grpc_path));
    }
    let body_schema = match &route.body {
        BodyRule::None => None,
        BodyRule::All => Some(schemas.partial(&input, &route.bindings)),
        BodyRule::Field(field) => {
            let nested: Vec<Vec<FieldDescriptor>> = route
                .bindings
                .iter()
                .filter(|b| b.len() > 1 && b[0] == *field)
                .map(|b| b[1..].to_vec())
                .collect();
            Some(match field.kind() {
                Kind::Message(message) if !field.is_list() && !field.is_map() => {
                    schemas.partial(&message, &nested)
                }
                _ => schemas.field(field),
            })
        }
    };
    if let Some(schema) = body_schema {
        operation["requestBody"] = json!({
            "required": false,
            "description": "proto3 JSON; an empty body is an empty message.",
            "content": {"application/json": {"schema": schema}},
        });
    }
    operation
}

fn has_field(message: &MessageDescriptor, name: &str, kind: Kind) -> bool {
    message
        .get_field_by_name(name)
        .is_some_and(|f| f.kind() == kind && !f.is_list())
}

/// Whether answers of this type carry an `ETag` (see `json::etag_of`).
fn carries_etag(message: &MessageDescriptor) -> bool {
    has_field(message, ETAG_FIELD, Kind::String)
        || message.fields().any(|f| {
            !f.is_list()
                && !f.is_map()
                && matches!(f.kind(), Kind::Message(inner) if has_field(&inner, ETAG_FIELD, Kind::String))
        })
}

/// The scalar fields a query parameter may set, by path.
fn query_leaves(
    message: &MessageDescriptor,
    prefix: &mut Vec<FieldDescriptor>,
    excluded: &[Vec<FieldDescriptor>],
    out: &mut Vec<Vec<FieldDescriptor>>,
) {
    for field in message.fields() {
        prefix.push(field.clone());
        if !excluded.iter().any(|e| e == prefix) {
            match field.kind() {
                Kind::Message(inner) => {
                    let cycle = prefix[..prefix.len() - 1]
                        .iter()
                        .any(|f| matches!(f.kind(), Kind::Message(m) if m == inner));
                    if !field.is_list()
                        && !field.is_map()
                        && !is_well_known(&inner)
                        && !cycle
                        && prefix.len() < MAX_QUERY_DEPTH
                    {
                        query_leaves(&inner, prefix, excluded, out);
                    }
                }
                _ if field.is_map() => {}
                _ => out.push(prefix.clone()),
            }
        }
        prefix.pop();
    }
}

fn responses(route: &Route, takes_etag: bool, schemas: &mut Schemas) -> Value {
    let output = route.rpc.output();
    let (media, schema, description) = if route.is_streaming() {
        (
            NDJSON,
            json!({
                "type": "object",
                "description": "One line: a message, or the error that ended the stream.",
                "properties": {
                    "result": schemas.message(&output),
                    "error": schema_ref(STATUS_SCHEMA),
                },
            }),
            format!(
                "A stream of {}, one `{{\"result\": …}}` per line (NDJSON).",
                output.name()
            ),
        )
    } else {
        let schema = match &route.response_body {
            Some(field) => schemas.field(field),
            None => schemas.message(&output),
        };
        (
            "application/json",
            schema,
            format!("The {}.", output.name()),
        )
    };
    let mut ok = json!({
        "description": description,
        "content": {media: {"schema": schema}},
    });
    if !route.is_streaming() && carries_etag(&output) {
        ok["headers"] = json!({
            "ETag": {
                "description": "The song's etag, quoted: send it back as If-Match.",
                "schema": {"type": "string"},
            }
        });
    }
    let mut responses = json!({ "200": ok });
    let mut statuses = vec!["400", "404", "409", "429", "500", "503", "504"];
    if takes_etag {
        statuses.push("412");
    }
    for status in statuses {
        responses[status] = json!({ "$ref": format!("#/components/responses/Status{status}") });
    }
    responses["default"] = json!({ "$ref": "#/components/responses/Status" });
    responses
}

/// The shared error answers: a `google.rpc.Status`, with `Retry-After` where it helps.
fn error_responses() -> Value {
    let status = |description: &str, retry: bool| {
        let mut response = json!({
            "description": description,
            "content": {"application/json": {"schema": schema_ref(STATUS_SCHEMA)}},
        });
        if retry {
            response["headers"] = json!({
                "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                }
            });
        }
        response
    };
    json!({
        "Status400": status("INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE: the request is malformed (bad JSON, an unknown field, a wrong type, a bad path) or the service refused its values.", false),
        "Status404": status("NOT_FOUND: no such table or song, or no such /v1 route.", false),
        "Status409": status("ALREADY_EXISTS (the table or song exists; also for If-None-Match: *) or ABORTED (the etag in the body did not match).", false),
        "Status412": status("ABORTED: the If-Match etag did not match the stored song.", false),
        "Status429": status("RESOURCE_EXHAUSTED: throttled by DynamoDB or the service; see Retry-After.", true),
        "Status500": status("INTERNAL or UNKNOWN.", false),
        "Status503": status("UNAVAILABLE: the service or its store cannot be reached.", true),
        "Status504": status("DEADLINE_EXCEEDED: the gateway's time budget (--timeout) ran out.", false),
        "Status": status("Any other failure, as a google.rpc.Status.", true),
    })
}

/// The component schemas a document refers to, collected as they are used.
#[derive(Default)]
struct Schemas {
    messages: BTreeSet<String>,
    enums: BTreeSet<String>,
}

impl Schemas {
    /// A field's schema (lists and maps included).
    fn field(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("a map field's kind is its entry message")
            };
            return json!({
                "type": "object",
                "additionalProperties": self.kind(&entry.map_entry_value_field().kind()),
            });
        }
        let single = self.kind(&field.kind());
        if field.is_list() {
            json!({"type": "array", "items": single})
        } else {
            single
        }
    }

    fn kind(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => json!({
                "type": "integer", "format": "int32",
                "minimum": i32::MIN, "maximum": i32::MAX,
            }),
            Kind::Uint32 | Kind::Fixed32 => json!({
                "type": "integer", "minimum": 0, "maximum": u32::MAX,
            }),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({
                "type": "string", "format": "int64", "pattern": "^-?[0-9]{1,19}$",
                "description": "A 64-bit integer, as a decimal string.",
            }),
            Kind::Uint64 | Kind::Fixed64 => json!({
                "type": "string", "pattern": "^[0-9]{1,20}$",
                "description": "An unsigned 64-bit integer, as a decimal string.",
            }),
            Kind::Float | Kind::Double => json!({
                "oneOf": [
                    {"type": "number"},
                    {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
                ]
            }),
            Kind::Enum(enumeration) => {
                self.enums.insert(enumeration.full_name().to_owned());
                schema_ref(enumeration.full_name())
            }
            Kind::Message(message) => self.message(message),
        }
    }

    /// A message's schema: a reference, or inline for the well-known types.
    fn message(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(schema) = well_known(message) {
            return schema;
        }
        if self.messages.insert(message.full_name().to_owned()) {
            // Collect what it refers to now, so `finish` has every name.
            for field in message.fields() {
                self.field(&field);
            }
        }
        schema_ref(message.full_name())
    }

    /// A message's schema without the fields at `excluded` (paths from it):
    /// a request body, without what the path gives.
    fn partial(&mut self, message: &MessageDescriptor, excluded: &[Vec<FieldDescriptor>]) -> Value {
        if excluded.is_empty() {
            return self.message(message);
        }
        let mut schema = self.object(message, |field| {
            if excluded.iter().any(|e| e.len() == 1 && e[0] == *field) {
                return None;
            }
            let nested: Vec<Vec<FieldDescriptor>> = excluded
                .iter()
                .filter(|e| e.len() > 1 && e[0] == *field)
                .map(|e| e[1..].to_vec())
                .collect();
            Some(nested)
        });
        describe(
            &mut schema,
            Some(format!(
                "{}, without the fields the path gives.",
                message.full_name()
            )),
        );
        schema
    }

    /// A message as an object schema; `keep` says per field whether it is
    /// shown and what of it is left out.
    fn object(
        &mut self,
        message: &MessageDescriptor,
        mut keep: impl FnMut(&FieldDescriptor) -> Option<Vec<Vec<FieldDescriptor>>>,
    ) -> Value {
        let mut properties = Map::new();
        for field in message.fields() {
            let Some(nested) = keep(&field) else { continue };
            let mut schema = match field.kind() {
                Kind::Message(inner)
                    if !nested.is_empty() && !field.is_list() && !field.is_map() =>
                {
                    self.partial(&inner, &nested)
                }
                _ => self.field(&field),
            };
            describe(&mut schema, comments(&field.parent_file(), field.path()));
            properties.insert(field.json_name().to_owned(), schema);
        }
        let mut schema = json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        });
        let exclusive: Vec<Value> = message
            .oneofs()
            .filter(|o| !o.is_synthetic())
            .flat_map(|oneof| {
                let names: Vec<String> = oneof.fields().map(|f| f.json_name().to_owned()).collect();
                let mut pairs = Vec::new();
                for (i, a) in names.iter().enumerate() {
                    for b in &names[i + 1..] {
                        pairs.push(json!({"required": [a, b]}));
                    }
                }
                pairs
            })
            .collect();
        if !exclusive.is_empty() {
            schema["not"] = json!({"anyOf": exclusive});
        }
        schema
    }

    /// Every referred schema, by full name.
    fn finish(mut self, pool: &DescriptorPool) -> Map<String, Value> {
        let mut out = Map::new();
        let mut done = BTreeSet::new();
        // Building a schema may refer to more messages: repeat until none is new.
        loop {
            let pending: Vec<String> = self.messages.difference(&done).cloned().collect();
            if pending.is_empty() {
                break;
            }
            for name in pending {
                let message = pool
                    .get_message_by_name(&name)
                    .expect("referred messages are in the pool");
                let mut schema = self.object(&message, |_| Some(Vec::new()));
                describe(
                    &mut schema,
                    comments(&message.parent_file(), message.path()),
                );
                out.insert(name.clone(), schema);
                done.insert(name);
            }
        }
        for name in &self.enums {
            let enumeration = pool
                .get_enum_by_name(name)
                .expect("referred enums are in the pool");
            out.insert(name.clone(), enum_schema(&enumeration));
        }
        out.insert(
            STATUS_SCHEMA.into(),
            json!({
                "type": "object",
                "description": "A failed call, as google.rpc.Status in proto3 JSON.",
                "properties": {
                    "code": {"type": "integer", "format": "int32", "description": "The gRPC status code (5 is NOT_FOUND)."},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": schema_ref(ANY_SCHEMA)},
                },
                "required": ["code", "message", "details"],
            }),
        );
        out.insert(
            ANY_SCHEMA.into(),
            json!({
                "type": "object",
                "description": "A detail such as google.rpc.ErrorInfo (reason, domain, metadata) or google.rpc.RetryInfo, named by @type.",
                "properties": {"@type": {"type": "string"}},
                "required": ["@type"],
            }),
        );
        out
    }
}

fn enum_schema(enumeration: &EnumDescriptor) -> Value {
    let mut schema = json!({
        "type": "string",
        "enum": enumeration.values().map(|v| v.name().to_owned()).collect::<Vec<_>>(),
    });
    describe(
        &mut schema,
        comments(&enumeration.parent_file(), enumeration.path()),
    );
    schema
}

fn is_well_known(message: &MessageDescriptor) -> bool {
    well_known(message).is_some()
}

/// The proto3 JSON forms of the well-known types that have their own.
fn well_known(message: &MessageDescriptor) -> Option<Value> {
    let int64 = json!({"type": "string", "pattern": "^-?[0-9]{1,19}$"});
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$"})
        }
        "google.protobuf.FieldMask" => json!({"type": "string"}),
        "google.protobuf.Empty" => json!({"type": "object", "additionalProperties": false}),
        "google.protobuf.Struct" => json!({"type": "object"}),
        "google.protobuf.ListValue" => json!({"type": "array"}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.Any" => schema_ref(ANY_SCHEMA),
        "google.protobuf.StringValue" | "google.protobuf.BytesValue" => json!({"type": "string"}),
        "google.protobuf.BoolValue" => json!({"type": "boolean"}),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => json!({"type": "integer"}),
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => int64,
        "google.protobuf.FloatValue" | "google.protobuf.DoubleValue" => json!({"type": "number"}),
        _ => return None,
    })
}

/// The tutorial's routes: per resource and method, its parameters (each a
/// header, and also accepted as a query parameter), its exact answers.
fn tutorial_paths(table: &RouteTable, paths: &mut BTreeMap<String, Map<String, Value>>) {
    for resource in Resource::ALL {
        let path = table.path_of(resource);
        for method in resource.allow().split(", ") {
            let method: Method = method.parse().expect("the tutorial's methods parse");
            let Ok(call) = table.route(&method, &path) else {
                continue;
            };
            paths.entry(path.clone()).or_default().insert(
                method.as_str().to_ascii_lowercase(),
                tutorial_operation(call),
            );
        }
    }
}

/// What one tutorial call takes and answers. Exhaustive, so a new call must
/// be documented here.
fn tutorial_operation(call: Call) -> Value {
    use Param::{AlbumTitle, Artist, SongTitle, Table};
    let (name, summary, params, wording, ok): (&str, &str, &[Param], Wording, Value) = match call {
        Call::CreateTable => (
            "CreateTable",
            "Creates the table (the tutorial's schema: HASH Artist, RANGE SongTitle)",
            &[Table],
            Wording::Table,
            json!({"const": "Table created", "type": "string"}),
        ),
        Call::DeleteTable => (
            "DeleteTable",
            "Deletes the table",
            &[Table],
            Wording::Table,
            json!({"const": "Table deleted", "type": "string"}),
        ),
        Call::PutItem => (
            "PutItem",
            "Adds (or replaces) an item",
            &[Table, Artist, SongTitle, AlbumTitle],
            Wording::Item,
            json!({"const": "Item added", "type": "string"}),
        ),
        Call::UpdateItem => (
            "UpdateItem",
            "Sets an item's AlbumTitle, creating the item when absent",
            &[Table, Artist, SongTitle, AlbumTitle],
            Wording::Item,
            json!({"const": "Item updated", "type": "string"}),
        ),
        Call::GetItem => (
            "GetItem",
            "Reads an item: the item in DynamoDB JSON, or \"Item not found\"",
            &[Table, Artist, SongTitle],
            Wording::Item,
            json!({"oneOf": [
                {"$ref": "#/components/schemas/Tutorial.Item"},
                {"const": "Item not found", "type": "string"},
            ]}),
        ),
        Call::DeleteItem => (
            "DeleteItem",
            "Deletes an item (also when nothing was there)",
            &[Table, Artist, SongTitle],
            Wording::Item,
            json!({"const": "Item deleted", "type": "string"}),
        ),
    };
    let mut parameters = Vec::new();
    for param in params {
        let name = param.name();
        parameters.push(json!({
            "name": name,
            "in": "header",
            "required": false,
            "description": format!(
                "The {name} (UTF-8; blanks around it are trimmed). Looked up in the headers, else the \
                 query string, else a JSON object body; missing from all three: 400."
            ),
            "schema": {"type": "string"},
        }));
        parameters.push(json!({
            "name": name,
            "in": "query",
            "required": false,
            "description": format!("The {name}, when no `{name}` header is sent."),
            "schema": {"type": "string"},
        }));
    }
    let body_properties: Map<String, Value> = params
        .iter()
        .map(|p| (p.name().to_owned(), json!({"type": "string"})))
        .collect();
    let missing = ParamError::Missing {
        param: params[0],
        wording,
    }
    .to_string();
    let text = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Tutorial.Text"}}},
        })
    };
    json!({
        "operationId": format!("Tutorial_{name}"),
        "tags": ["Tutorial"],
        "summary": summary,
        "parameters": parameters,
        "requestBody": {
            "required": false,
            "description": "The parameters not sent as headers or query parameters, as a JSON object of strings.",
            "content": {"application/json": {"schema": {
                "type": "object",
                "properties": body_properties,
            }}},
        },
        "responses": {
            "200": {
                "description": "Done, as the tutorial's Lambda answers.",
                "content": {"application/json": {"schema": ok}},
            },
            "400": {
                "description": format!(
                    "A parameter is missing (the tutorial's KeyError text, e.g. {missing:?}), not valid UTF-8, \
                     sent twice, or the body is not a JSON object of strings; with --errors http, also \
                     DynamoDB's ValidationException (botocore's text)."
                ),
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Tutorial.Text"},
                    "example": missing,
                }},
            },
            "404": text("--errors http: no such table (botocore's text)."),
            "408": text("The request body did not arrive in time."),
            "409": text("--errors http: the table exists (botocore's text)."),
            "413": text("The request body is larger than 1 MiB."),
            "415": text("The request body is encoded (Content-Encoding), which the gateway does not decode."),
            "429": text("--errors http: throttled (botocore's text); see Retry-After."),
            "500": text("DynamoDB refused the call, answered as the tutorial does: botocore's text, e.g. \"An error occurred (ResourceNotFoundException) when calling the GetItem operation: Requested resource not found\"."),
            "503": text("The music service is unavailable."),
            "504": text("The music service did not answer within the gateway's time budget."),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::fixture_pool;

    fn document_of(source: &str) -> Value {
        let pool = fixture_pool(source).unwrap();
        let routes = RouteSet::from_pool(&pool).unwrap();
        document(&routes, &pool, &RouteTable::new("Test"))
    }

    #[test]
    fn a_fixtures_rules_are_described_from_its_descriptors() {
        let document = document_of(crate::rest::routes::tests::LIBRARY);
        let get = &document["paths"]["/v1/{name}"]["get"];
        assert_eq!(get["operationId"], "Library_GetBook");
        let parameters = get["parameters"].as_array().unwrap();
        assert_eq!(
            parameters[0]["schema"]["pattern"],
            "^shelves/[^/]+/books/.*$"
        );
        let query: Vec<&str> = parameters[1..]
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            query,
            [
                "filter.tags",
                "filter.inner.on",
                "filter.inner.n",
                "ids",
                "cover",
                "token"
            ]
        );
        assert_eq!(parameters[1]["schema"]["type"], "array");
        assert_eq!(parameters[4]["schema"]["type"], "array");
        assert_eq!(parameters[4]["schema"]["items"]["format"], "int64");
        // A scalar body field's body is that field's schema.
        let retitle = &document["paths"]["/v1/{book.name}:retitle"]["patch"];
        assert_eq!(
            retitle["requestBody"]["content"]["application/json"]["schema"],
            json!({"type": "string"})
        );
        // A custom method has no place in OpenAPI 3.1: served, not described.
        assert!(document["paths"].get("/v1/books").is_none());
        assert!(document["components"]["schemas"]["fixture.v1.Cover"]["enum"].is_array());
    }

    #[test]
    fn oneofs_allow_one_field_and_partial_bodies_leave_out_the_path() {
        let document = document_of(crate::rest::routes::tests::LIBRARY);
        let write = &document["components"]["schemas"]["music.v1.SongWrite"];
        assert_eq!(
            write["not"],
            json!({"anyOf": [{"required": ["put", "delete"]}]})
        );
        let song = &document["components"]["schemas"]["music.v1.Song"];
        assert_eq!(song["additionalProperties"], false);
        assert!(
            song["not"].is_null(),
            "a proto3 optional is no oneof: {song}"
        );
        let patch = &document["paths"]["/v1/tables/{table_name}/artists/{artist}/songs/{song_title}"]
            ["patch"];
        let body = &patch["requestBody"]["content"]["application/json"]["schema"]["properties"];
        let mut names: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["albumTitle", "etag"]);
    }
}
