//! An HTTP request as its RPC's request message, by the rules of
//! `google.api.http`: the path's variables bind their fields, the body is the
//! whole message (`body: "*"`) or one field of it (`body: "song"`) in proto3
//! JSON, every other field may come from a query parameter (`pageSize=10`,
//! `a.b=1`, repeated fields by repeating the parameter), and HTTP's
//! preconditions become the request's own: `If-Match` its `etag` field,
//! `If-None-Match: *` its `only_if_absent` field.
//!
//! Everything a client can get wrong here is a 400 `Failure` that says what.

use http::{HeaderMap, Method, header};
use percent_encoding::percent_decode;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

use super::{
    json,
    routes::{BodyRule, Route},
    status::{Failure, Preconditions},
};
use crate::request::bounded;

/// The request field an `If-Match` header sets.
pub const ETAG_FIELD: &str = "etag";
/// The request field `If-None-Match: *` sets.
pub const ONLY_IF_ABSENT_FIELD: &str = "only_if_absent";

/// Most query parameters read from one request.
const MAX_QUERY_PARAMETERS: usize = 64;

/// A request message, and how its preconditions were asked for.
#[derive(Debug)]
pub struct Transcoded {
    pub message: DynamicMessage,
    pub preconditions: Preconditions,
}

/// Builds the route's request message from a request's parts.
pub fn request_message(
    route: &Route,
    values: Vec<String>,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Transcoded, Failure> {
    let input = route.rpc.input();
    let body_is_empty = body.iter().all(u8::is_ascii_whitespace);
    let mut message = match &route.body {
        BodyRule::None if !body_is_empty => {
            return Err(Failure::invalid(format!(
                "{} {} takes no request body; send its fields as query parameters.",
                route.method, route.label
            )));
        }
        BodyRule::None => DynamicMessage::new(input.clone()),
        _ if body_is_empty => DynamicMessage::new(input.clone()),
        BodyRule::All => json::parse_message(&input, body)?,
        BodyRule::Field(field) => json::parse_field(&input, field, body)?,
    };

    for (fields, value) in route.bindings.iter().zip(values) {
        let leaf = fields.last().expect("a binding names a field");
        // The field's dotted name is written only into an error.
        let parsed = scalar(leaf, &value).map_err(|why| {
            Failure::invalid(format!("The path segment for '{}' {why}.", dotted(fields)))
        })?;
        let target = nested_mut(&mut message, &fields[..fields.len() - 1]);
        if target.has_field(leaf) && *target.get_field(leaf) != parsed {
            return Err(Failure::invalid(format!(
                "'{}' is given by the path and, with another value, by the body; leave it out of the body.",
                dotted(fields)
            )));
        }
        target.set_field(leaf, parsed);
    }

    if let Some(query) = query {
        set_query_parameters(route, &input, &mut message, query)?;
    }
    let preconditions = preconditions(route, &input, &mut message, headers)?;
    Ok(Transcoded {
        message,
        preconditions,
    })
}

fn dotted(fields: &[FieldDescriptor]) -> String {
    fields
        .iter()
        .map(FieldDescriptor::name)
        .collect::<Vec<_>>()
        .join(".")
}

/// The message at the end of a path of singular message fields, made when absent.
fn nested_mut<'m>(
    message: &'m mut DynamicMessage,
    path: &[FieldDescriptor],
) -> &'m mut DynamicMessage {
    let mut current = message;
    for field in path {
        current = match current.get_field_mut(field) {
            Value::Message(inner) => inner,
            _ => unreachable!("field paths walk only message fields"),
        };
    }
    current
}

/// One value of a scalar field from its text (a path segment or a query
/// parameter), as proto3 JSON reads a string: numbers in decimal, booleans
/// as `true`/`false`, enums by name (or number), bytes as base64.
pub fn scalar(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    // The value is quoted only in an error: bounding it is a scan of its
    // characters, for every path variable of every request.
    let not = |what: &str| format!("is not {what}: '{}'", bounded(text));
    Ok(match field.kind() {
        Kind::String => Value::String(text.to_owned()),
        Kind::Bool => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(not("true or false")),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(text.parse().map_err(|_| not("an int32"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(text.parse().map_err(|_| not("an int64"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(text.parse().map_err(|_| not("a uint32"))?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(text.parse().map_err(|_| not("a uint64"))?),
        Kind::Float => Value::F32(float(text).map_err(|_| not("a number"))? as f32),
        Kind::Double => Value::F64(float(text).map_err(|_| not("a number"))?),
        Kind::Bytes => {
            use base64::{Engine as _, engine::general_purpose};
            // Standard or URL-safe alphabet, padded or not, as proto3 JSON reads bytes.
            let trimmed = text.trim_end_matches('=');
            let bytes = general_purpose::STANDARD_NO_PAD
                .decode(trimmed)
                .or_else(|_| general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
                .map_err(|_| not("base64"))?;
            Value::Bytes(bytes.into())
        }
        Kind::Enum(enumeration) => {
            let value = enumeration
                .get_value_by_name(text)
                .or_else(|| text.parse().ok().and_then(|n| enumeration.get_value(n)))
                .ok_or_else(|| not(&format!("a value of {}", enumeration.name())))?;
            Value::EnumNumber(value.number())
        }
        Kind::Message(message) => {
            return Err(format!(
                "cannot be given as text: it is a {} message",
                message.full_name()
            ));
        }
    })
}

/// A float as proto3 JSON writes one: a decimal number, `NaN`, `Infinity`, `-Infinity`.
fn float(text: &str) -> Result<f64, ()> {
    match text {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ if text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
        {
            Err(())
        }
        _ => text.parse().map_err(|_| ()),
    }
}

/// Splits a query string as HTML forms encode one (`+` is a space).
fn query_pairs(query: &str) -> Result<Vec<(String, String)>, Failure> {
    let decode = |text: &str| {
        let spaced = text.replace('+', " ");
        percent_decode(spaced.as_bytes())
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| {
                Failure::invalid(format!(
                    "The query parameter '{}' is not valid UTF-8 once percent-decoded.",
                    bounded(text)
                ))
            })
    };
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if pairs.len() == MAX_QUERY_PARAMETERS {
            return Err(Failure::invalid(format!(
                "The query string has more than {MAX_QUERY_PARAMETERS} parameters."
            )));
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.push((decode(key)?, decode(value)?));
    }
    Ok(pairs)
}

/// The fields a query parameter's dotted name walks, each by its JSON or proto name.
fn query_field_path(input: &MessageDescriptor, key: &str) -> Result<Vec<FieldDescriptor>, String> {
    let mut fields = Vec::new();
    let mut current = input.clone();
    let parts: Vec<&str> = key.split('.').collect();
    for (n, part) in parts.iter().enumerate() {
        let field = current
            .get_field_by_json_name(part)
            .or_else(|| current.get_field_by_name(part))
            .ok_or_else(|| format!("{} has no field '{part}'", current.full_name()))?;
        let last = n + 1 == parts.len();
        match field.kind() {
            Kind::Message(inner) if !last && !field.is_list() && !field.is_map() => current = inner,
            Kind::Message(_) => {
                return Err(format!(
                    "'{}' is a message, list or map field, which a query parameter cannot set; send it in a body",
                    field.name()
                ));
            }
            _ if !last => return Err(format!("'{}' is not a message field", field.name())),
            _ if field.is_map() => {
                return Err(format!(
                    "'{}' is a map, which a query parameter cannot set",
                    field.name()
                ));
            }
            _ => {}
        }
        fields.push(field);
    }
    Ok(fields)
}

fn set_query_parameters(
    route: &Route,
    input: &MessageDescriptor,
    message: &mut DynamicMessage,
    query: &str,
) -> Result<(), Failure> {
    let mut seen: Vec<Vec<FieldDescriptor>> = Vec::new();
    for (key, value) in query_pairs(query)? {
        let refuse = |why: String| {
            Failure::invalid(format!("The query parameter '{}' {why}.", bounded(&key)))
        };
        if matches!(route.body, BodyRule::All) {
            return Err(refuse(
                "is not accepted: every field of this request comes from the path or the body"
                    .into(),
            ));
        }
        let fields =
            query_field_path(input, &key).map_err(|why| refuse(format!("is unknown: {why}")))?;
        if route.bindings.contains(&fields) {
            return Err(refuse("names a field the path already gives".into()));
        }
        if let BodyRule::Field(body) = &route.body
            && fields[0] == *body
        {
            return Err(refuse("names a field the body gives".into()));
        }
        let leaf = fields.last().expect("a parameter names a field");
        let parsed = scalar(leaf, &value).map_err(refuse)?;
        let target = nested_mut(message, &fields[..fields.len() - 1]);
        if leaf.is_list() {
            if let Value::List(list) = target.get_field_mut(leaf) {
                list.push(parsed);
            }
        } else {
            if seen.contains(&fields) {
                return Err(refuse(
                    "is given more than once for a field that takes one value".into(),
                ));
            }
            seen.push(fields.clone());
            target.set_field(leaf, parsed);
        }
    }
    Ok(())
}

/// `If-Match` and `If-None-Match` as the request's own preconditions, on
/// the methods that change a resource.
fn preconditions(
    route: &Route,
    input: &MessageDescriptor,
    message: &mut DynamicMessage,
    headers: &HeaderMap,
) -> Result<Preconditions, Failure> {
    let mut preconditions = Preconditions::default();
    if !matches!(route.method, Method::PUT | Method::PATCH | Method::DELETE) {
        return Ok(preconditions);
    }
    if let Some(value) = joined(headers, header::IF_MATCH)? {
        let field = input
            .get_field_by_name(ETAG_FIELD)
            .filter(|f| f.kind() == Kind::String && !f.is_list())
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "{} {} takes no precondition; send it without If-Match.",
                    route.method, route.label
                ))
            })?;
        let etag = strong_etag(&value)?;
        if message.has_field(&field) && message.get_field(&field).as_str() != Some(etag.as_str()) {
            return Err(Failure::invalid(
                "The etag is given by If-Match and, with another value, by the body; send one.",
            ));
        }
        message.set_field(&field, Value::String(etag));
        preconditions.if_match = true;
    }
    if route.method == Method::PUT
        && let Some(value) = joined(headers, header::IF_NONE_MATCH)?
    {
        let field = input
            .get_field_by_name(ONLY_IF_ABSENT_FIELD)
            .filter(|f| f.kind() == Kind::Bool && !f.is_list())
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "{} {} takes no If-None-Match precondition.",
                    route.method, route.label
                ))
            })?;
        if value.trim() != "*" {
            return Err(Failure::invalid(
                "If-None-Match on PUT takes only '*' (write only if the song does not exist yet).",
            ));
        }
        message.set_field(&field, Value::Bool(true));
    }
    Ok(preconditions)
}

/// Every value of a header, joined with commas as HTTP allows; `None` when absent.
fn joined(headers: &HeaderMap, name: header::HeaderName) -> Result<Option<String>, Failure> {
    let mut values = Vec::new();
    for value in headers.get_all(&name) {
        values.push(
            value.to_str().map_err(|_| {
                Failure::invalid(format!("The {name} header is not visible ASCII."))
            })?,
        );
    }
    Ok((!values.is_empty()).then(|| values.join(",")))
}

/// The one strong entity tag of an `If-Match` value, unquoted. A bare tag
/// without quotes is taken as written (curl users often leave them out).
fn strong_etag(value: &str) -> Result<String, Failure> {
    let value = value.trim();
    let one = |problem: &str| {
        Failure::invalid(format!(
            "If-Match {problem}; send the one etag the song was read with."
        ))
    };
    if value == "*" {
        return Err(one("'*' is not supported"));
    }
    if value.contains(',') {
        return Err(one("lists several entity tags"));
    }
    if value.starts_with("W/") {
        // If-Match compares strongly: a weak tag never matches.
        return Err(Failure::new(
            tonic::Code::FailedPrecondition,
            "If-Match with a weak entity tag never matches (If-Match compares strongly).",
        )
        .with_http(http::StatusCode::PRECONDITION_FAILED));
    }
    let tag = match value.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .ok_or_else(|| one("has an unterminated quoted entity tag"))?,
        None => value,
    };
    if tag.is_empty() || tag.contains('"') {
        return Err(one("is not an entity tag"));
    }
    Ok(tag.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::{Descriptors, routes::RouteSet};

    fn routes() -> RouteSet {
        RouteSet::from_pool(Descriptors::load(&[]).unwrap().pool()).unwrap()
    }

    fn route<'r>(routes: &'r RouteSet, rpc: &str) -> &'r Route {
        routes
            .iter()
            .find(|r| r.rpc.name() == rpc)
            .unwrap_or_else(|| panic!("{rpc} has a route"))
    }

    fn json_of(message: &DynamicMessage) -> serde_json::Value {
        serde_json::from_slice(&json::render(message)).unwrap()
    }

    fn transcode(
        rpc: &str,
        values: &[&str],
        query: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Transcoded, Failure> {
        let routes = routes();
        let route = route(&routes, rpc);
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        request_message(
            route,
            values.iter().map(|v| (*v).to_owned()).collect(),
            query,
            &map,
            body.as_bytes(),
        )
    }

    #[test]
    fn path_values_bind_nested_fields_and_the_body_field_the_rest() {
        let t = transcode(
            "PutItem",
            &["Music", "AC/DC", "Back in Black"],
            None,
            &[],
            r#"{"albumTitle": "Back in Black"}"#,
        )
        .unwrap();
        assert_eq!(
            json_of(&t.message),
            serde_json::json!({
                "tableName": "Music",
                "song": {"artist": "AC/DC", "songTitle": "Back in Black", "albumTitle": "Back in Black"}
            })
        );
    }

    #[test]
    fn query_parameters_fill_the_remaining_fields_by_either_name() {
        for query in ["pageSize=5&pageToken=abc", "page_size=5&page_token=abc"] {
            let t = transcode("ListSongs", &["Music", "A"], Some(query), &[], "").unwrap();
            assert_eq!(
                json_of(&t.message),
                serde_json::json!({"tableName": "Music", "artist": "A", "pageSize": 5, "pageToken": "abc"}),
                "{query}"
            );
        }
        let t = transcode("ListTables", &[], Some("pageToken=a+b%2Fc"), &[], "").unwrap();
        assert_eq!(
            json_of(&t.message),
            serde_json::json!({"pageToken": "a b/c"})
        );
    }

    #[test]
    fn malformed_query_parameters_are_refused_with_their_name() {
        for (query, says) in [
            ("pageSize=ten", "'pageSize' is not an int32: 'ten'"),
            ("pageSize=99999999999", "is not an int32"),
            ("bogus=1", "'bogus' is unknown"),
            ("tableName=x", "names a field the path already gives"),
            ("pageSize=1&pageSize=2", "more than once"),
            ("pageToken=%FF", "not valid UTF-8"),
        ] {
            let error = transcode("ListSongs", &["Music", "A"], Some(query), &[], "").unwrap_err();
            assert_eq!(error.http, http::StatusCode::BAD_REQUEST, "{query}");
            assert!(error.message.contains(says), "{query}: {}", error.message);
        }
        let error = transcode("CreateTable", &[], Some("tableName=x"), &[], "{}").unwrap_err();
        assert!(
            error.message.contains("is not accepted"),
            "{}",
            error.message
        );
        let error = transcode(
            "PutItem",
            &["T", "A", "S"],
            Some("song.albumTitle=x"),
            &[],
            "",
        )
        .unwrap_err();
        assert!(
            error.message.contains("the body gives"),
            "{}",
            error.message
        );
    }

    #[test]
    fn bodies_are_proto3_json_with_both_names_and_no_unknown_fields() {
        for body in [r#"{"tableName": "Music"}"#, r#"{"table_name": "Music"}"#] {
            let t = transcode("CreateTable", &[], None, &[], body).unwrap();
            assert_eq!(
                json_of(&t.message),
                serde_json::json!({"tableName": "Music"})
            );
        }
        let t = transcode(
            "CreateTable",
            &[],
            None,
            &[],
            r#"{"tableName": "M", "provisionedThroughput": {"readCapacityUnits": "7", "writeCapacityUnits": 8}}"#,
        )
        .unwrap();
        assert_eq!(
            json_of(&t.message)["provisionedThroughput"],
            serde_json::json!({"readCapacityUnits": "7", "writeCapacityUnits": "8"}),
            "64-bit integers go out as strings"
        );
        for (body, says) in [
            (
                r#"{"tableName": "M", "color": 1}"#,
                "unrecognized field name 'color'",
            ),
            (r#"{"tableName": 5}"#, "invalid type"),
            (r#"{"tableName": "M""#, "EOF"),
            (r#"[1]"#, "invalid type"),
            (r#"{"tableName": "M"} trailing"#, "trailing"),
        ] {
            let error = transcode("CreateTable", &[], None, &[], body).unwrap_err();
            assert_eq!(error.http, http::StatusCode::BAD_REQUEST, "{body}");
            assert!(error.message.contains(says), "{body}: {}", error.message);
        }
    }

    #[test]
    fn a_body_is_refused_where_the_rule_takes_none() {
        let error = transcode("GetItem", &["T", "A", "S"], None, &[], r#"{"x":1}"#).unwrap_err();
        assert!(
            error.message.contains("takes no request body"),
            "{}",
            error.message
        );
        assert!(transcode("GetItem", &["T", "A", "S"], None, &[], " \n").is_ok());
    }

    #[test]
    fn a_path_field_repeated_in_the_body_must_agree() {
        assert!(
            transcode(
                "UpdateItem",
                &["T", "A", "S"],
                None,
                &[],
                r#"{"artist": "A"}"#
            )
            .is_ok()
        );
        let error = transcode(
            "UpdateItem",
            &["T", "A", "S"],
            None,
            &[],
            r#"{"artist": "B"}"#,
        )
        .unwrap_err();
        assert!(
            error.message.contains("'artist' is given by the path"),
            "{}",
            error.message
        );
    }

    #[test]
    fn if_match_sets_the_etag_and_if_none_match_only_if_absent() {
        let t = transcode(
            "UpdateItem",
            &["T", "A", "S"],
            None,
            &[("if-match", "\"abc\"")],
            "{}",
        )
        .unwrap();
        assert_eq!(json_of(&t.message)["etag"], "abc");
        assert!(t.preconditions.if_match);
        let t = transcode(
            "DeleteItem",
            &["T", "A", "S"],
            None,
            &[("if-match", "abc")],
            "",
        )
        .unwrap();
        assert_eq!(json_of(&t.message)["etag"], "abc");
        let t = transcode(
            "PutItem",
            &["T", "A", "S"],
            None,
            &[("if-none-match", "*")],
            "{}",
        )
        .unwrap();
        assert_eq!(json_of(&t.message)["onlyIfAbsent"], true);
        assert!(!t.preconditions.if_match);
        for (header, value, status) in [
            ("if-match", "*", 400),
            ("if-match", "\"a\", \"b\"", 400),
            ("if-match", "W/\"a\"", 412),
            ("if-none-match", "\"a\"", 400),
        ] {
            let error =
                transcode("PutItem", &["T", "A", "S"], None, &[(header, value)], "{}").unwrap_err();
            assert_eq!(error.http.as_u16(), status, "{header}: {value}");
        }
        // Reads ignore preconditions they cannot express.
        assert!(transcode("GetItem", &["T", "A", "S"], None, &[("if-match", "x")], "").is_ok());
        let error = transcode("DeleteTable", &["T"], None, &[("if-match", "x")], "").unwrap_err();
        assert!(
            error.message.contains("takes no precondition"),
            "{}",
            error.message
        );
    }

    #[test]
    fn scalars_parse_as_proto3_json_reads_strings() {
        let pool = Descriptors::load(&[]).unwrap();
        let table = pool.pool().get_message_by_name("music.v1.Table").unwrap();
        let status = table.get_field_by_name("status").unwrap();
        assert_eq!(
            scalar(&status, "TABLE_STATUS_ACTIVE"),
            Ok(Value::EnumNumber(4))
        );
        assert_eq!(scalar(&status, "4"), Ok(Value::EnumNumber(4)));
        assert!(scalar(&status, "ACTIVE").is_err());
        assert!(scalar(&status, "99").is_err());
        let count = table.get_field_by_name("item_count").unwrap();
        assert_eq!(scalar(&count, "-12"), Ok(Value::I64(-12)));
        assert!(scalar(&count, "1.5").is_err());
        let created = table.get_field_by_name("created_at").unwrap();
        assert!(scalar(&created, "2024-01-01T00:00:00Z").is_err());
    }
}
