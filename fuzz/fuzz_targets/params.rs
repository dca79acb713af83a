//! The gateway's request-to-parameters step: any headers, query string and
//! body give each parameter a value, nothing, or an error the client is
//! shown, never a panic, and the same answer each time it is asked.
//!
//! Input, so that the corpus reads like requests:
//!
//! ```text
//! name: value        header lines (any bytes; kept when hyper would accept them)
//!                    an empty line
//! ?query             the query string (no line: none; `?` alone: empty)
//! body…              the rest, as the body
//! ```

#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use music_fuzz::gateway::params::{Param, ParamError, Params, Wording};

const ALL: [Param; 4] = [
    Param::Table,
    Param::Artist,
    Param::SongTitle,
    Param::AlbumTitle,
];

fuzz_target!(|data: &[u8]| {
    let (head, rest) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut headers = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        // Only what hyper hands over: valid names and values.
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    let (query, body) = match rest.strip_prefix(b"?") {
        Some(rest) => {
            let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            (
                Some(String::from_utf8_lossy(&rest[..end])),
                rest.get(end + 1..).unwrap_or_default(),
            )
        }
        None => (None, rest),
    };

    let params = Params::new(&headers, query.as_deref(), body);
    for param in ALL {
        let answer = params.get(param);
        assert_eq!(
            answer,
            params.get(param),
            "the same lookup answers the same"
        );
        match answer {
            Ok(Some(value)) => {
                if headers.contains_key(param.name()) {
                    assert_eq!(
                        value.trim_matches([' ', '\t']),
                        value,
                        "header values are trimmed"
                    );
                }
            }
            Ok(None) => {}
            Err(ParamError::Missing { .. }) => panic!("get never says a parameter is missing"),
            Err(
                ParamError::NotUtf8 { name, .. }
                | ParamError::Repeated { name, .. }
                | ParamError::NotAString { name },
            ) => assert_eq!(name, param.name()),
            Err(ParamError::BodyNotJson(_) | ParamError::BodyNotObject(_)) => {}
        }
    }
    for wording in [Wording::Table, Wording::Item] {
        match params.require(ALL, wording) {
            Ok(values) => assert!(
                ALL.iter()
                    .zip(&values)
                    .all(|(p, v)| params.get(*p) == Ok(Some(v.clone())))
            ),
            // Every error has the text the client is shown.
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }
});
