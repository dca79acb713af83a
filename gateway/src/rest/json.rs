//! Proto3's canonical JSON mapping, by prost-reflect: what `/v1` reads
//! (lowerCamelCase or proto field names, 64-bit integers as strings or
//! numbers, enums by name or number, unknown fields refused) and writes.
//!
//! Written: lowerCamelCase names, 64-bit integers as strings, enums by name,
//! and fields at their default value left out, as grpc-gateway and Envoy's
//! transcoder do by default (and as the proto3 JSON mapping allows): a
//! missing field reads as its default (`""`, `0`, `false`, `[]`), so the
//! answers stay as small as the messages and adding a field changes no
//! answer that does not use it.

use std::borrow::Cow;

use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage,
    SerializeOptions, Value,
};

use super::status::Failure;
use crate::request::bounded;

/// How answers are written; see the module's documentation.
pub const WRITE: SerializeOptions = SerializeOptions::new()
    .stringify_64_bit_integers(true)
    .use_enum_numbers(false)
    .use_proto_field_name(false)
    .skip_default_fields(true);

/// How requests are read: unknown fields are an error.
const READ: DeserializeOptions = DeserializeOptions::new().deny_unknown_fields(true);

fn refused(message: &MessageDescriptor, error: impl std::fmt::Display) -> Failure {
    Failure::invalid(format!(
        "The request body is not a valid {} in JSON: {}.",
        message.full_name(),
        bounded(&error.to_string())
    ))
}

/// A whole request message from a JSON body (`body: "*"`).
pub fn parse_message(message: &MessageDescriptor, body: &[u8]) -> Result<DynamicMessage, Failure> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed =
        DynamicMessage::deserialize_with_options(message.clone(), &mut deserializer, &READ)
            .map_err(|e| refused(message, e))?;
    deserializer.end().map_err(|e| refused(message, e))?;
    Ok(parsed)
}

/// A request message with one field from a JSON body (`body: "song"`): the
/// body is that field's value, of whatever type it has.
pub fn parse_field(
    message: &MessageDescriptor,
    field: &FieldDescriptor,
    body: &[u8],
) -> Result<DynamicMessage, Failure> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| refused(message, e))?;
    let wrapped = serde_json::Value::Object(serde_json::Map::from_iter([(
        field.json_name().to_owned(),
        value,
    )]));
    DynamicMessage::deserialize_with_options(message.clone(), wrapped, &READ).map_err(|e| {
        Failure::invalid(format!(
            "The request body is not a valid {} in JSON: {}.",
            field_type_name(field),
            bounded(&e.to_string())
        ))
    })
}

fn field_type_name(field: &FieldDescriptor) -> String {
    match field.kind() {
        Kind::Message(message) => message.full_name().to_owned(),
        _ => format!("{} field", field.name()),
    }
}

/// A message as JSON.
pub fn render(message: &DynamicMessage) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::new(&mut out);
    message
        .serialize_with_options(&mut serializer, &WRITE)
        .expect("a message of the pool serializes");
    out
}

/// One field of a message as JSON (`response_body`); a field at its default
/// value is written as that default (`{}`, `[]`, `""`, `0`).
pub fn render_field(message: &DynamicMessage, field: &FieldDescriptor) -> Vec<u8> {
    let whole = message
        .serialize_with_options(serde_json::value::Serializer, &WRITE)
        .expect("a message of the pool serializes");
    let value = whole
        .get(field.json_name())
        .cloned()
        .unwrap_or_else(|| default_json(field));
    serde_json::to_vec(&value).expect("JSON serializes")
}

fn default_json(field: &FieldDescriptor) -> serde_json::Value {
    use serde_json::json;
    if field.is_list() {
        return json!([]);
    }
    if field.is_map() {
        return json!({});
    }
    match field.kind() {
        Kind::Message(_) => json!({}),
        Kind::String | Kind::Bytes => json!(""),
        Kind::Bool => json!(false),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => json!("0"),
        Kind::Enum(enumeration) => json!(enumeration.default_value().name()),
        Kind::Int32
        | Kind::Sint32
        | Kind::Sfixed32
        | Kind::Uint32
        | Kind::Fixed32
        | Kind::Float
        | Kind::Double => json!(0),
    }
}

/// The etag of the resource an answer holds, for its `ETag` header: the
/// message's own `etag` string field, or that of its one singular message
/// field that has one (`PutItemResponse.song`).
pub fn etag_of(message: &DynamicMessage) -> Option<&str> {
    fn own(message: &DynamicMessage) -> Option<&str> {
        let field = message.descriptor().get_field_by_name("etag")?;
        if field.is_list() || field.kind() != Kind::String {
            return None;
        }
        // A set field is borrowed; an unset one is an empty default.
        match message.get_field(&field) {
            Cow::Borrowed(Value::String(etag)) if !etag.is_empty() => Some(etag),
            _ => None,
        }
    }
    own(message).or_else(|| {
        let mut found = message.fields().filter_map(|(field, value)| match value {
            Value::Message(inner) if !field.is_list() && !field.is_map() => own(inner),
            _ => None,
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::Descriptors;

    fn pool() -> prost_reflect::DescriptorPool {
        Descriptors::load(&[]).unwrap().pool().clone()
    }

    #[test]
    fn answers_are_lower_camel_case_without_defaults_with_64_bit_strings_and_enum_names() {
        let pool = pool();
        let table = pool.get_message_by_name("music.v1.Table").unwrap();
        let message = parse_message(
            &table,
            br#"{"name": "Music", "status": "TABLE_STATUS_ACTIVE", "item_count": 3,
                "keySchema": [{"attributeName": "Artist", "keyType": 1}],
                "createdAt": "2024-05-01T10:00:00Z", "arn": ""}"#,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(render(&message)).unwrap(),
            r#"{"name":"Music","status":"TABLE_STATUS_ACTIVE","keySchema":[{"attributeName":"Artist","keyType":"KEY_TYPE_HASH"}],"itemCount":"3","createdAt":"2024-05-01T10:00:00Z"}"#
        );
    }

    #[test]
    fn bad_enums_and_wrong_types_are_refused() {
        let pool = pool();
        let table = pool.get_message_by_name("music.v1.Table").unwrap();
        for body in [
            r#"{"status": "ACTIVE"}"#,
            r#"{"status": true}"#,
            r#"{"itemCount": "many"}"#,
            r#"{"itemCount": 1.5}"#,
            r#"{"createdAt": "yesterday"}"#,
            r#"{"keySchema": {}}"#,
            r#"null"#,
            "",
        ] {
            let error = parse_message(&table, body.as_bytes()).unwrap_err();
            assert_eq!(error.http, http::StatusCode::BAD_REQUEST, "{body}");
            assert!(
                error
                    .message
                    .starts_with("The request body is not a valid music.v1.Table"),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn a_response_body_field_is_written_even_at_its_default() {
        let pool = pool();
        let response = pool
            .get_message_by_name("music.v1.ListSongsResponse")
            .unwrap();
        let empty = DynamicMessage::new(response.clone());
        let songs = response.get_field_by_name("songs").unwrap();
        let token = response.get_field_by_name("next_page_token").unwrap();
        assert_eq!(render_field(&empty, &songs), b"[]");
        assert_eq!(render_field(&empty, &token), br#""""#);
        let full = parse_message(
            &response,
            br#"{"songs": [{"artist": "A", "songTitle": "S"}]}"#,
        )
        .unwrap();
        assert_eq!(
            render_field(&full, &songs),
            br#"[{"artist":"A","songTitle":"S"}]"#
        );
    }

    #[test]
    fn the_etag_comes_from_the_song_answered() {
        let pool = pool();
        let song = pool.get_message_by_name("music.v1.Song").unwrap();
        let put = pool
            .get_message_by_name("music.v1.PutItemResponse")
            .unwrap();
        let list = pool
            .get_message_by_name("music.v1.ListSongsResponse")
            .unwrap();
        let one = parse_message(&song, br#"{"artist": "A", "etag": "e1"}"#).unwrap();
        assert_eq!(etag_of(&one), Some("e1"));
        let wrapped =
            parse_message(&put, br#"{"replaced": true, "song": {"etag": "e2"}}"#).unwrap();
        assert_eq!(etag_of(&wrapped), Some("e2"));
        let many = parse_message(&list, br#"{"songs": [{"etag": "a"}, {"etag": "b"}]}"#).unwrap();
        assert_eq!(etag_of(&many), None, "a list has no one etag");
        assert_eq!(etag_of(&DynamicMessage::new(song)), None);
    }
}
