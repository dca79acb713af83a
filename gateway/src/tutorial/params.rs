//! Where the tutorial's parameters come from: per name, the request headers
//! (name case-insensitive, value trimmed), else the query string, else a JSON
//! object body. Everything a client can get wrong here is a [`ParamError`]
//! with the message the client is shown.

use std::{fmt, sync::OnceLock};

use http::HeaderMap;
use percent_encoding::percent_decode;
use serde_json::{Map, Value};

/// The tutorial's parameter names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    Table,
    Artist,
    SongTitle,
    AlbumTitle,
}

impl Param {
    pub fn name(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Artist => "artist",
            Self::SongTitle => "songtitle",
            Self::AlbumTitle => "albumtitle",
        }
    }
}

/// Which Lambda's wording a missing parameter gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wording {
    /// DemoCreateTable / DemoDeleteTable: "... to get the table name."
    Table,
    /// DemoHandleItem: "... to get the value."
    Item,
}

/// Where a parameter was looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Header,
    Query,
    Body,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Query => "query parameter",
            Self::Body => "JSON body field",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// The tutorial's KeyError texts, verbatim.
    #[error("KeyError exception happened while using key '{}' to get the {}.", .param.name(), match .wording { Wording::Table => "table name", Wording::Item => "value" })]
    Missing { param: Param, wording: Wording },
    #[error("The {from} '{name}' is not valid UTF-8.")]
    NotUtf8 { from: Source, name: &'static str },
    #[error("The {from} '{name}' was sent more than once; send it once.")]
    Repeated { from: Source, name: &'static str },
    #[error("The JSON body field '{name}' must be a string.")]
    NotAString { name: &'static str },
    #[error("The request body is not valid JSON: {0}.")]
    BodyNotJson(String),
    #[error("The request body must be a JSON object of string values, not {0}.")]
    BodyNotObject(&'static str),
}

/// A request's parameters, ready to be looked up by name.
#[derive(Debug)]
pub struct Params<'r> {
    headers: &'r HeaderMap,
    query: Vec<(Vec<u8>, Vec<u8>)>,
    raw_body: &'r [u8],
    /// The body as a JSON object, parsed on first need: the tutorial's Lambdas
    /// never read the body when the headers carried the parameters, so neither
    /// does the gateway (a client sending a stray body keeps working).
    body: OnceLock<Result<Option<Map<String, Value>>, ParamError>>,
}

impl<'r> Params<'r> {
    pub fn new(headers: &'r HeaderMap, query: Option<&str>, body: &'r [u8]) -> Self {
        Self {
            headers,
            query: query.map(parse_query).unwrap_or_default(),
            raw_body: body,
            body: OnceLock::new(),
        }
    }

    fn body(&self) -> Result<Option<&Map<String, Value>>, ParamError> {
        self.body
            .get_or_init(|| parse_body(self.raw_body))
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    /// Looks up each parameter in order; the first missing one is the error.
    pub fn require<const N: usize>(
        &self,
        params: [Param; N],
        wording: Wording,
    ) -> Result<[String; N], ParamError> {
        let mut values: [String; N] = std::array::from_fn(|_| String::new());
        for (slot, param) in values.iter_mut().zip(params) {
            *slot = self
                .get(param)?
                .ok_or(ParamError::Missing { param, wording })?;
        }
        Ok(values)
    }

    /// One parameter: header › query › body.
    pub fn get(&self, param: Param) -> Result<Option<String>, ParamError> {
        let name = param.name();
        let mut headers = self.headers.get_all(name).iter();
        if let Some(value) = headers.next() {
            if headers.next().is_some() {
                return Err(ParamError::Repeated {
                    from: Source::Header,
                    name,
                });
            }
            let text = std::str::from_utf8(value.as_bytes()).map_err(|_| ParamError::NotUtf8 {
                from: Source::Header,
                name,
            })?;
            return Ok(Some(text.trim_matches([' ', '\t']).to_owned()));
        }

        let mut found = self.query.iter().filter(|(key, _)| key == name.as_bytes());
        if let Some((_, value)) = found.next() {
            if found.next().is_some() {
                return Err(ParamError::Repeated {
                    from: Source::Query,
                    name,
                });
            }
            let text = String::from_utf8(value.clone()).map_err(|_| ParamError::NotUtf8 {
                from: Source::Query,
                name,
            })?;
            return Ok(Some(text));
        }

        match self.body()?.and_then(|body| body.get(name)) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(ParamError::NotAString { name }),
        }
    }
}

/// An empty (or blank) body has no parameters; any other must be a JSON object.
fn parse_body(body: &[u8]) -> Result<Option<Map<String, Value>>, ParamError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(other) => Err(ParamError::BodyNotObject(kind_of(&other))),
        Err(error) => Err(ParamError::BodyNotJson(error.to_string())),
    }
}

/// `application/x-www-form-urlencoded` pairs, percent-decoded to raw bytes so
/// that invalid UTF-8 is reported instead of silently replaced.
fn parse_query(query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let decode = |part: &str| -> Vec<u8> {
        let spaced = part.replace('+', " ");
        percent_decode(spaced.as_bytes()).collect()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn headers_win_over_query_and_body() {
        let h = headers(&[("Table", b"FromHeader")]);
        let p = Params::new(&h, Some("table=FromQuery"), br#"{"table": "FromBody"}"#);
        assert_eq!(p.get(Param::Table).unwrap().as_deref(), Some("FromHeader"));
    }

    #[test]
    fn query_wins_over_body_and_is_percent_decoded() {
        let h = HeaderMap::new();
        let p = Params::new(
            &h,
            Some("artist=Sigur+R%C3%B3s&x=1"),
            br#"{"artist": "B", "songtitle": "T"}"#,
        );
        assert_eq!(p.get(Param::Artist).unwrap().as_deref(), Some("Sigur Rós"));
        assert_eq!(p.get(Param::SongTitle).unwrap().as_deref(), Some("T"));
        assert_eq!(p.get(Param::AlbumTitle).unwrap(), None);
    }

    #[test]
    fn header_values_are_utf8_and_trimmed() {
        let h = headers(&[
            ("albumtitle", " Louder Than Ever\t".as_bytes()),
            ("artist", "Sigur Rós".as_bytes()),
        ]);
        let p = Params::new(&h, None, b"");
        assert_eq!(
            p.get(Param::AlbumTitle).unwrap().as_deref(),
            Some("Louder Than Ever")
        );
        assert_eq!(p.get(Param::Artist).unwrap().as_deref(), Some("Sigur Rós"));
    }

    #[test]
    fn bad_values_are_named() {
        let h = headers(&[("artist", b"\xff\xfe")]);
        let p = Params::new(&h, Some("songtitle=%FF"), b"");
        assert_eq!(
            p.get(Param::Artist).unwrap_err().to_string(),
            "The header 'artist' is not valid UTF-8."
        );
        assert_eq!(
            p.get(Param::SongTitle).unwrap_err().to_string(),
            "The query parameter 'songtitle' is not valid UTF-8."
        );
        let h = headers(&[("table", b"a"), ("table", b"b")]);
        let p = Params::new(&h, None, b"");
        assert_eq!(
            p.get(Param::Table).unwrap_err().to_string(),
            "The header 'table' was sent more than once; send it once."
        );
    }

    #[test]
    fn the_first_missing_parameter_gets_the_tutorials_key_error() {
        let h = headers(&[("table", b"Music")]);
        let p = Params::new(&h, None, b"");
        let err = p
            .require(
                [Param::Table, Param::Artist, Param::SongTitle],
                Wording::Item,
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "KeyError exception happened while using key 'artist' to get the value."
        );
        let empty = HeaderMap::new();
        let p = Params::new(&empty, None, b"");
        let err = p.require([Param::Table], Wording::Table).unwrap_err();
        assert_eq!(
            err.to_string(),
            "KeyError exception happened while using key 'table' to get the table name."
        );
    }

    #[test]
    fn bodies_must_be_json_objects_of_strings_when_they_are_needed() {
        let h = HeaderMap::new();
        let p = Params::new(&h, None, b"{not json");
        assert_eq!(
            p.get(Param::Table).unwrap_err().to_string(),
            "The request body is not valid JSON: key must be a string at line 1 column 2."
        );
        let p = Params::new(&h, None, b"[1, 2]");
        assert_eq!(
            p.get(Param::Table).unwrap_err().to_string(),
            "The request body must be a JSON object of string values, not an array."
        );
        let p = Params::new(&h, None, br#"{"table": 5}"#);
        assert_eq!(
            p.get(Param::Table).unwrap_err().to_string(),
            "The JSON body field 'table' must be a string."
        );
    }

    #[test]
    fn a_body_is_not_read_when_headers_carry_the_parameters() {
        let h = headers(&[("table", b"Music")]);
        let p = Params::new(&h, None, b"table=Music");
        assert_eq!(p.get(Param::Table).unwrap().as_deref(), Some("Music"));
    }

    mod properties {
        use http::{HeaderMap, HeaderName, HeaderValue};
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        use proptest::prelude::*;

        use super::super::{Param, ParamError, Params, Wording};

        const ALL: [Param; 4] = [
            Param::Table,
            Param::Artist,
            Param::SongTitle,
            Param::AlbumTitle,
        ];

        /// Form encoding: everything but letters and digits as `%XX`, spaces as `+`.
        const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b' ');

        fn param() -> impl Strategy<Value = Param> {
            prop::sample::select(ALL.to_vec())
        }

        /// A parameter name as a client may spell it: any letter case.
        fn spelled(param: Param, upper: &[bool]) -> String {
            param
                .name()
                .chars()
                .zip(upper.iter().chain(std::iter::repeat(&false)))
                .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
                .collect()
        }

        /// Other query pairs, none of them a parameter.
        fn noise() -> impl Strategy<Value = Vec<(String, String)>> {
            prop::collection::vec(("x[a-z]{0,6}", "[a-zA-Z0-9%+=]{0,8}"), 0..4)
        }

        fn query_of(pairs: &[(String, String)]) -> String {
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        }

        proptest! {
            /// What hyper hands over: any UTF-8 without control characters
            /// but tab; surrounding blanks are trimmed, as HTTP does.
            #[test]
            fn any_utf8_header_value_round_trips_trimmed(
                param in param(),
                upper in prop::collection::vec(any::<bool>(), 10),
                value in "[\\t\\P{Cc}]*",
                query in noise(),
            ) {
                let mut headers = HeaderMap::new();
                headers.insert(
                    HeaderName::from_bytes(spelled(param, &upper).as_bytes()).unwrap(),
                    HeaderValue::from_str(&value).expect("a header value hyper accepts"),
                );
                let params = Params::new(&headers, Some(&query_of(&query)), b"");
                prop_assert_eq!(
                    params.get(param),
                    Ok(Some(value.trim_matches([' ', '\t']).to_owned()))
                );
            }

            /// Any string at all, percent-encoded (spaces as `%20` or `+`),
            /// comes back exactly, wherever it is in the query.
            #[test]
            fn any_utf8_query_value_round_trips_percent_encoded(
                param in param(),
                value in any::<String>(),
                plus in any::<bool>(),
                before in noise(),
                after in noise(),
            ) {
                let encoded = if plus {
                    utf8_percent_encode(&value, FORM).to_string().replace(' ', "+")
                } else {
                    utf8_percent_encode(&value, NON_ALPHANUMERIC).to_string()
                };
                let mut pairs = before;
                pairs.push((param.name().to_owned(), encoded));
                pairs.extend(after);
                let query = query_of(&pairs);
                let headers = HeaderMap::new();
                let params = Params::new(&headers, Some(&query), b"");
                prop_assert_eq!(params.get(param), Ok(Some(value)), "{}", query);
            }

            /// Any string in a JSON object body, as serde_json or as the
            /// gateway's own `json.dumps` writes it, comes back exactly.
            #[test]
            fn any_utf8_json_body_value_round_trips(
                param in param(),
                value in any::<String>(),
                other in any::<String>(),
                python in any::<bool>(),
            ) {
                let object = serde_json::json!({ param.name(): value, "x-other": other });
                let body = if python {
                    crate::pyjson::dumps(&object).into_bytes()
                } else {
                    serde_json::to_vec(&object).unwrap()
                };
                let headers = HeaderMap::new();
                let params = Params::new(&headers, None, &body);
                prop_assert_eq!(params.get(param), Ok(Some(value)));
            }

            #[test]
            fn headers_win_over_the_query_which_wins_over_the_body(
                param in param(),
                values in prop::collection::vec("[a-zA-Z0-9]{1,8}", 3),
                sources in prop::collection::vec(any::<bool>(), 3),
            ) {
                let mut headers = HeaderMap::new();
                if sources[0] {
                    headers.insert(param.name(), HeaderValue::from_str(&values[0]).unwrap());
                }
                let query = sources[1].then(|| format!("{}={}", param.name(), values[1]));
                let body = if sources[2] {
                    serde_json::to_vec(&serde_json::json!({ param.name(): values[2] })).unwrap()
                } else {
                    Vec::new()
                };
                let params = Params::new(&headers, query.as_deref(), &body);
                let expected = sources.iter().position(|s| *s).map(|i| values[i].clone());
                prop_assert_eq!(params.get(param), Ok(expected));
            }

            #[test]
            fn the_first_missing_parameter_is_the_one_named(
                present in prop::collection::vec(any::<bool>(), 4),
                wording in prop_oneof![Just(Wording::Table), Just(Wording::Item)],
            ) {
                let mut headers = HeaderMap::new();
                for (param, present) in ALL.iter().zip(&present) {
                    if *present {
                        headers.insert(param.name(), HeaderValue::from_static("v"));
                    }
                }
                let params = Params::new(&headers, None, b"");
                let result = params.require(ALL, wording);
                match present.iter().position(|p| !p) {
                    Some(first) => prop_assert_eq!(
                        result,
                        Err(ParamError::Missing { param: ALL[first], wording })
                    ),
                    None => prop_assert_eq!(result, Ok(["v", "v", "v", "v"].map(String::from))),
                }
            }

            /// Whatever the bytes, a lookup answers (a value, nothing, or
            /// an error the client is shown) and answers the same each time.
            #[test]
            fn any_request_bytes_are_answered_without_panicking(
                header_pairs in prop::collection::vec(
                    (
                        prop_oneof![
                            param().prop_map(|p| p.name().as_bytes().to_vec()),
                            prop::collection::vec(any::<u8>(), 1..12),
                        ],
                        prop::collection::vec(any::<u8>(), 0..16),
                    ),
                    0..6,
                ),
                query in proptest::option::of(any::<String>()),
                body in prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..64),
                    "\\{(\"(table|artist|songtitle|albumtitle)\": (\"[^\"]*\"|[0-9]+|null|\\[\\]), ?){0,4}\\}?"
                        .prop_map(String::into_bytes),
                ],
            ) {
                let mut headers = HeaderMap::new();
                for (name, value) in header_pairs {
                    if let (Ok(name), Ok(value)) =
                        (HeaderName::from_bytes(&name), HeaderValue::from_bytes(&value))
                    {
                        headers.append(name, value);
                    }
                }
                let params = Params::new(&headers, query.as_deref(), &body);
                for param in ALL {
                    let first = params.get(param);
                    prop_assert_eq!(&first, &params.get(param));
                    match first {
                        Ok(_) => {}
                        Err(ParamError::NotUtf8 { name, .. } | ParamError::Repeated { name, .. }) => {
                            prop_assert_eq!(name, param.name());
                        }
                        Err(ParamError::NotAString { name }) => prop_assert_eq!(name, param.name()),
                        Err(ParamError::BodyNotJson(_) | ParamError::BodyNotObject(_)) => {}
                        Err(ParamError::Missing { .. }) => prop_assert!(false, "get never says Missing"),
                    }
                }
                let _ = params.require(ALL, Wording::Item);
            }
        }
    }
}
