//! Hostile input, one test per case: malformed, oversized, ambiguous and
//! smuggling-shaped requests on every route, each sent as raw bytes (so that
//! no client tidies it up) or as a curl command line, with the exact status
//! and body it gets (default error mode `seed`). The gateway answers none of
//! them 5xx except DynamoDB's refusals, which the tutorial answers 500 (its
//! botocore text), and it still serves afterwards: after each case on a
//! gateway of its own, and after all of them in turn on one gateway.
//!
//! Some bytes never reach the gateway: hyper refuses them first (400, 414 or
//! 431, an empty body and no request id). Those cases say so.
//!
//! Cases about what the answer should be, where its exact wording is still
//! to be written, are kept apart at the end, one test each.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::Instant,
};

use music_testkit::Answer;

use crate::helpers::{ITEM_PATH, TABLE_PATH, TUTORIAL_HOST, TestApp};

const T: &str = "/Test/DemoResourceMusic/DemoResourceMusicTable";
const I: &str = "/Test/DemoResourceMusic/DemoResourceMusicItem";

/// Longest a case may take to be answered; every case is answered in milliseconds.
const ROW_DEADLINE: Duration = Duration::from_secs(10);

/// How a row's request is sent.
#[derive(Debug)]
enum Request {
    /// These bytes, on a new connection.
    Raw(Vec<u8>),
    /// A curl command line, `TUTORIAL_HOST` standing for the gateway.
    Curl(String),
}

/// What a row's answer must be.
#[derive(Debug)]
enum Expect {
    /// The gateway's answer: this status, exactly this body, JSON, with a request id.
    Json(u16, String),
    /// hyper's refusal before the gateway sees the request: this status, no body.
    Refused(u16),
    /// This status, content type and body.
    Exactly(u16, &'static str, &'static str),
}

#[derive(Debug)]
struct Case {
    name: &'static str,
    send: Request,
    expect: Expect,
    /// A case whose request must come first (a write this case reads back).
    after: Option<fn() -> Case>,
}

/// A request with `Host` and `Connection: close`, and `Content-Length` when
/// there is a body.
fn raw(method: &str, target: impl AsRef<[u8]>, headers: &[&[u8]], body: &[u8]) -> Request {
    let mut request = format!("{method} ").into_bytes();
    request.extend_from_slice(target.as_ref());
    request.extend_from_slice(b" HTTP/1.1\r\nHost: gateway.test\r\n");
    for header in headers {
        request.extend_from_slice(header);
        request.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() {
        request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    request.extend_from_slice(body);
    Request::Raw(request)
}

/// Bytes exactly as given.
fn bytes(request: &[u8]) -> Request {
    Request::Raw(request.to_vec())
}

/// Bytes with `\n` line ends turned into `\r\n`, for readable hand-made requests.
fn lines(request: &str) -> Request {
    Request::Raw(request.replace('\n', "\r\n").into_bytes())
}

/// `PUT` on the table resource, framed by hand: `head` is header lines, each
/// ending in `\n` (on HTTP/1.1, `Host` and `Connection: close` come first);
/// line ends become `\r\n`.
fn put_table(version: &str, head: &str, body: &str) -> Request {
    lines(&framed(version, head, body))
}

fn framed(version: &str, head: &str, body: &str) -> String {
    let host = match version {
        "HTTP/1.1" => "Host: g\nConnection: close\n",
        _ => "",
    };
    format!("PUT {T} {version}\n{host}{head}\n{body}")
}

/// `curl <before> <the gateway><path> <after>`.
fn curl(before: &str, path: &str, after: &str) -> Request {
    Request::Curl(format!("curl {before} {TUTORIAL_HOST}{path} {after}"))
}

fn json(status: u16, body: &str) -> Expect {
    Expect::Json(status, body.to_owned())
}

/// The tutorial's KeyError text on the table routes.
fn key_error_table() -> Expect {
    json(
        400,
        r#""KeyError exception happened while using key 'table' to get the table name.""#,
    )
}

const TOO_SHORT: &str = "Member must have length greater than or equal to 3";
const TOO_LONG: &str = "Member must have length less than or equal to 255";
const NOT_A_NAME: &str = "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+";
const EMPTY_ARTIST: &str = "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: Artist";

/// DynamoDB's refusal, as the tutorial answers it: 500 and botocore's text
/// (`message` as it appears inside the JSON string).
fn refused(operation: &str, message: &str) -> Expect {
    json(
        500,
        &format!(
            r#""An error occurred (ValidationException) when calling the {operation} operation: {message}""#
        ),
    )
}

/// DynamoDB's refusal of a table name (`shown` as it appears inside the JSON string).
fn bad_name(operation: &str, shown: &str, rule: &str) -> Expect {
    refused(
        operation,
        &format!(
            "1 validation error detected: Value '{shown}' at 'tableName' failed to satisfy constraint: {rule}"
        ),
    )
}

/// 404 naming the path (as it appears inside the JSON string).
fn not_found(shown_path: &str) -> Expect {
    json(
        404,
        &format!(
            r#"{{"message": "No resource at {shown_path}. Resources: PUT, DELETE {T}; GET, PUT, POST, DELETE {I}."}}"#
        ),
    )
}

fn not_allowed(path: &str, method: &str, allow: &str) -> Expect {
    json(
        405,
        &format!(r#"{{"message": "{path} does not support {method}; it supports {allow}."}}"#),
    )
}

fn body_error(message: &str) -> Expect {
    json(
        400,
        &format!(r#""The request body is not valid JSON: {message}.""#),
    )
}

/// `n` headers that mean nothing to the gateway.
fn filler(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("x-filler-{i}: v").into_bytes())
        .collect()
}

fn refs(headers: &[Vec<u8>]) -> Vec<&[u8]> {
    headers.iter().map(Vec::as_slice).collect()
}

/// `n` filler headers, then `table: ab`.
fn filler_then_table(n: usize) -> Vec<Vec<u8>> {
    let mut headers = filler(n);
    headers.push(b"table: ab".to_vec());
    headers
}

/// A `table` header whose value is `len` letters.
fn table_header_of(len: usize) -> Vec<u8> {
    [b"table: ".as_slice(), &vec![b'a'; len]].concat()
}

/// How a table name of 100 KiB is echoed: cut at 300 characters.
fn echoed_name() -> String {
    format!("{}\\u2026", "a".repeat(300))
}

/// JSON arrays nested `depth` deep.
fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// A path of 70 KiB.
fn long_path() -> String {
    format!("/{}", "a".repeat(70 * 1024))
}

/// `{"table": "abc"}` in UTF-16 (little-endian, with a byte order mark).
fn utf16_body() -> Vec<u8> {
    "\u{feff}{\"table\": \"abc\"}"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// An item whose values carry CR LF, as if to inject a header.
const CRLF_PUT: &[u8] = br#"{"table": "Music", "artist": "a\r\nX-Injected: 1", "songtitle": "t", "albumtitle": "a\r\nX-Injected: 1"}"#;
const CRLF_GET: &[u8] = br#"{"table": "Music", "artist": "a\r\nX-Injected: 1", "songtitle": "t"}"#;
const CRLF_ITEM: &str = r#"{"Artist": {"S": "a\r\nX-Injected: 1"}, "SongTitle": {"S": "t"}, "AlbumTitle": {"S": "a\r\nX-Injected: 1"}}"#;

/// An item whose values are NUL, control, separator and astral characters.
const CONTROL_POST: &[u8] = br#"{"table": "Music", "artist": "\u0000\u0001\u001f\u007f", "songtitle": "\u2028", "albumtitle": "\ud83c\udfb5"}"#;
const CONTROL_GET: &[u8] =
    br#"{"table": "Music", "artist": "\u0000\u0001\u001f\u007f", "songtitle": "\u2028"}"#;
const CONTROL_ITEM: &str = r#"{"Artist": {"S": "\u0000\u0001\u001f\u007f"}, "SongTitle": {"S": "\u2028"}, "AlbumTitle": {"S": "\ud83c\udfb5"}}"#;

const UPDATE_AB: &str = r#"'{"table": "ab", "artist": "a", "songtitle": "t", "albumtitle": "x"}'"#;

/// `{"table": "ab"}` as a chunked body (for `lines`).
const CHUNKED_AB: &str = "f\n{\"table\": \"ab\"}\n0\n\n";

/// `{"table": "Music"}`, gzip-compressed (Python's `gzip.compress(..., mtime=0)`).
const GZIPPED: [u8; 38] = [
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x2a, 0x49, 0x4c, 0xca,
    0x49, 0x55, 0xb2, 0x52, 0x50, 0xf2, 0x2d, 0x2d, 0xce, 0x4c, 0x56, 0xaa, 0x05, 0x00, 0x10, 0x8f,
    0xd9, 0xcd, 0x12, 0x00, 0x00, 0x00,
];

/// One `#[tokio::test]` per case, named by its first token, on a gateway of
/// its own (with the `Music` table); `cases::NAME()` builds the case, and
/// `all_cases()` lists them in order.
macro_rules! hostile_cases {
    ($(
        $test:ident $(after $after:ident)?:
            $name:literal,
            $send:expr,
            $expect:expr;
    )+) => {
        mod cases {
            use super::*;
            use super::Expect::{Exactly, Refused};

            $(
                pub(super) fn $test() -> Case {
                    Case {
                        name: $name,
                        send: $send,
                        expect: $expect,
                        after: hostile_cases!(@after $($after)?),
                    }
                }
            )+
        }

        $(
            #[tokio::test]
            async fn $test() {
                one_case(cases::$test()).await;
            }
        )+

        fn all_cases() -> Vec<Case> {
            vec![$(cases::$test()),+]
        }
    };
    (@after) => { None };
    (@after $after:ident) => { Some($after as fn() -> Case) };
}

hostile_cases! {
    // --- PUT table (CreateTable): header values hyper refuses or passes on.
    a_table_header_of_blanks_and_tabs_is_trimmed_to_an_empty_name:
        "a table header of blanks and tabs is trimmed to an empty name",
        raw("PUT", T, &[b"table: \t \t"], b""),
        bad_name("CreateTable", "", TOO_SHORT);
    a_nul_byte_in_a_header_value:
        "a NUL byte in a header value",
        raw("PUT", T, &[b"table: Mu\0sic"], b""),
        Refused(400);
    a_del_byte_in_a_header_value:
        "a DEL byte in a header value",
        raw("PUT", T, &[b"table: Mu\x7fsic"], b""),
        Refused(400);
    a_cr_alone_inside_a_header_value:
        "a CR alone inside a header value",
        raw("PUT", T, &[b"table: Mu\rsic"], b""),
        Refused(400);
    obsolete_line_folding:
        "obsolete line folding",
        raw("PUT", T, &[b"table: Mu", b" sic"], b""),
        Refused(400);
    a_blank_between_header_name_and_colon:
        "a blank between header name and colon",
        raw("PUT", T, &[b"table : abc"], b""),
        Refused(400);
    a_header_name_with_a_separator_in_it:
        "a header name with a separator in it",
        raw("PUT", T, &[b"ta(ble: abc"], b""),
        Refused(400);
    a_header_name_that_is_not_ascii:
        "a header name that is not ASCII",
        raw("PUT", T, &["tabl\u{e9}: abc".as_bytes()], b""),
        Refused(400);
    a_header_line_without_a_colon:
        "a header line without a colon",
        raw("PUT", T, &[b"table abc"], b""),
        Refused(400);
    a_table_header_in_latin1:
        "a table header in Latin-1",
        raw("PUT", T, &[b"table: M\xfcsic"], b""),
        json(400, r#""The header 'table' is not valid UTF-8.""#);
    a_hundred_header_fields_hypers_limit_are_served:
        "100 header fields, hyper's limit, are served",
        raw("PUT", T, &refs(&filler_then_table(97)), b""),
        bad_name("CreateTable", "ab", TOO_SHORT);
    a_hundred_and_one_header_fields:
        "101 header fields",
        raw("PUT", T, &refs(&filler_then_table(98)), b""),
        Refused(431);
    two_hundred_header_fields:
        "200 header fields",
        raw("PUT", T, &refs(&filler(200)), b""),
        Refused(431);
    one_header_of_500_kib:
        "one header of 500 KiB",
        raw("PUT", T, &[&table_header_of(500 * 1024)], b""),
        Refused(431);
    a_table_name_of_100_kib_is_refused_with_its_echo_cut_at_300_characters:
        "a table name of 100 KiB is refused with its echo cut at 300 characters",
        raw("PUT", T, &[&table_header_of(100 * 1024)], b""),
        bad_name("CreateTable", &echoed_name(), TOO_LONG);
    // --- PUT table: odd query strings.
    a_query_value_that_is_a_lone_percent:
        "a query value that is a lone %",
        raw("PUT", format!("{T}?table=%"), &[], b""),
        bad_name("CreateTable", "%", TOO_SHORT);
    a_query_value_with_an_invalid_escape_percent_zz_is_kept_as_written:
        "a query value with an invalid escape %zz is kept as written",
        raw("PUT", format!("{T}?table=%zz"), &[], b""),
        bad_name("CreateTable", "%zz", NOT_A_NAME);
    a_query_of_separators_only:
        "a query of separators only",
        raw("PUT", format!("{T}?&&&"), &[], b""),
        key_error_table();
    a_query_of_a_lone_equals_sign:
        "a query of a lone =",
        raw("PUT", format!("{T}?="), &[], b""),
        key_error_table();
    a_query_name_without_equals_is_an_empty_value:
        "a query name without = is an empty value",
        raw("PUT", format!("{T}?table"), &[], b""),
        bad_name("CreateTable", "", TOO_SHORT);
    an_escaped_query_name_and_an_escaped_slash_in_its_value:
        "an escaped query name and an escaped slash in its value",
        raw("PUT", format!("{T}?t%61ble=abc%2Fd"), &[], b""),
        bad_name("CreateTable", "abc/d", NOT_A_NAME);
    a_nul_escaped_in_a_query_value:
        "a NUL escaped in a query value",
        raw("PUT", format!("{T}?table=a%00b"), &[], b""),
        bad_name("CreateTable", r"a\u0000b", NOT_A_NAME);
    a_semicolon_does_not_separate_query_pairs:
        "a semicolon does not separate query pairs",
        raw("PUT", format!("{T}?table=abc;table=d"), &[], b""),
        bad_name("CreateTable", "abc;table=d", NOT_A_NAME);
    query_names_are_case_sensitive:
        "query names are case-sensitive",
        raw("PUT", format!("{T}?TABLE=abc"), &[], b""),
        key_error_table();
    an_empty_query_value_twice:
        "an empty query value twice",
        raw("PUT", format!("{T}?table=&table="), &[], b""),
        json(
            400,
            r#""The query parameter 'table' was sent more than once; send it once.""#,
        );
    raw_utf8_bytes_in_the_query:
        "raw UTF-8 bytes in the query",
        raw(
            "PUT",
            [format!("{T}?table=").as_bytes(), "\u{e9}".as_bytes()].concat(),
            &[],
            b"",
        ),
        bad_name("CreateTable", r"\u00e9", TOO_SHORT);
    a_raw_blank_in_the_query:
        "a raw blank in the query",
        raw("PUT", format!("{T}?table=a b"), &[], b""),
        Refused(400);
    // --- PUT table: framing and protocol versions.
    http_1_0_without_host_or_connection:
        "HTTP/1.0 without Host or Connection",
        put_table("HTTP/1.0", "table: ab\n", ""),
        bad_name("CreateTable", "ab", TOO_SHORT);
    http_1_0_from_curl:
        "HTTP/1.0 from curl",
        curl("--http1.0 -X DELETE", T, "-H 'table: ab'"),
        bad_name("DeleteTable", "ab", TOO_SHORT);
    an_http_0_9_request_line:
        "an HTTP/0.9 request line",
        bytes(format!("GET {I}\r\n\r\n").as_bytes()),
        Refused(400);
    http_2_0_spoken_as_text:
        "HTTP/2.0 spoken as text",
        put_table("HTTP/2.0", "Host: g\ntable: ab\n", ""),
        Refused(400);
    http_1_2:
        "HTTP/1.2",
        put_table("HTTP/1.2", "Host: g\ntable: ab\n", ""),
        Refused(400);
    two_blanks_in_the_request_line:
        "two blanks in the request line",
        lines(&format!("PUT  {T}  HTTP/1.1\nHost: g\ntable: ab\n\n")),
        Refused(400);
    bare_lf_line_ends:
        "bare LF line ends",
        bytes(framed("HTTP/1.1", "table: ab\n", "").as_bytes()),
        bad_name("CreateTable", "ab", TOO_SHORT);
    an_absolute_form_target_naming_another_host_is_routed_by_its_path:
        "an absolute-form target naming another host is routed by its path",
        raw(
            "PUT",
            format!("http://elsewhere.example:81{T}"),
            &[b"table: ab"],
            b"",
        ),
        bad_name("CreateTable", "ab", TOO_SHORT);
    a_fragment_in_the_target_is_ignored:
        "a fragment in the target is ignored",
        raw("PUT", format!("{T}#fragment"), &[b"table: ab"], b""),
        bad_name("CreateTable", "ab", TOO_SHORT);
    a_chunked_body:
        "a chunked body",
        put_table("HTTP/1.1", "Transfer-Encoding: chunked\n", CHUNKED_AB),
        bad_name("CreateTable", "ab", TOO_SHORT);
    a_chunked_body_with_a_chunk_extension_and_a_trailer:
        "a chunked body with a chunk extension and a trailer",
        put_table(
            "HTTP/1.1",
            "Transfer-Encoding: chunked\n",
            "f;name=value\n{\"table\": \"ab\"}\n0\nx-trailer: t\n\n",
        ),
        bad_name("CreateTable", "ab", TOO_SHORT);
    chunked_from_curl:
        "chunked from curl",
        curl(
            "-X POST",
            I,
            &format!("-H 'Transfer-Encoding: chunked' -d {UPDATE_AB}"),
        ),
        bad_name("UpdateItem", "ab", TOO_SHORT);
    content_length_and_chunked_together_chunked_is_read:
        "Content-Length and chunked together: chunked is read",
        put_table(
            "HTTP/1.1",
            "Content-Length: 3\nTransfer-Encoding: chunked\n",
            CHUNKED_AB,
        ),
        bad_name("CreateTable", "ab", TOO_SHORT);
    a_transfer_coding_other_than_chunked:
        "a transfer coding other than chunked",
        put_table("HTTP/1.1", "Transfer-Encoding: gzip\n", "abc"),
        Refused(400);
    chunked_on_http_1_0:
        "chunked on HTTP/1.0",
        put_table("HTTP/1.0", "Transfer-Encoding: chunked\n", CHUNKED_AB),
        Refused(400);
    two_different_content_lengths:
        "two different Content-Lengths",
        put_table("HTTP/1.1", "Content-Length: 3\nContent-Length: 4\n", "abcd"),
        Refused(400);
    a_negative_content_length:
        "a negative Content-Length",
        put_table("HTTP/1.1", "Content-Length: -1\n", ""),
        Refused(400);
    a_content_length_beyond_64_bits:
        "a Content-Length beyond 64 bits",
        put_table("HTTP/1.1", "Content-Length: 99999999999999999999999\n", ""),
        Refused(400);
    expect_100_continue:
        "Expect: 100-continue",
        raw("PUT", T, &[b"Expect: 100-continue"], br#"{"table": "ab"}"#),
        bad_name("CreateTable", "ab", TOO_SHORT);
    a_json_body_sent_as_text_plain_is_still_read:
        "a JSON body sent as text/plain is still read",
        curl(
            "-X PUT",
            T,
            r#"-H 'Content-Type: text/plain' --data-binary '{"table": "ab"}'"#,
        ),
        bad_name("CreateTable", "ab", TOO_SHORT);
    // --- DELETE table: repeated names and bodies that are not JSON.
    the_table_header_twice_in_two_letter_cases:
        "the table header twice, in two letter cases",
        raw("DELETE", T, &[b"Table: abc", b"TABLE: abc"], b""),
        json(
            400,
            r#""The header 'table' was sent more than once; send it once.""#,
        );
    a_json_key_twice_the_last_wins_as_with_pythons_json_loads:
        "a JSON key twice: the last wins, as with Python's json.loads",
        raw("DELETE", T, &[], br#"{"table": "abc", "table": "x"}"#),
        bad_name("DeleteTable", "x", TOO_SHORT);
    a_json_body_after_a_utf8_byte_order_mark:
        "a JSON body after a UTF-8 byte order mark",
        raw("DELETE", T, &[], b"\xef\xbb\xbf{\"table\": \"abc\"}"),
        body_error("expected value at line 1 column 1");
    a_json_body_in_utf16:
        "a JSON body in UTF-16",
        raw("DELETE", T, &[], &utf16_body()),
        body_error("expected value at line 1 column 1");
    json_nested_200_deep:
        "JSON nested 200 deep",
        raw("DELETE", T, &[], nested_arrays(200).as_bytes()),
        body_error("recursion limit exceeded at line 1 column 128");
    a_json_string_with_a_lone_surrogate:
        "a JSON string with a lone surrogate",
        raw("DELETE", T, &[], br#"{"table": "\ud800"}"#),
        body_error("unexpected end of hex escape at line 1 column 18");
    a_json_string_that_is_not_utf8:
        "a JSON string that is not UTF-8",
        raw("DELETE", T, &[], b"{\"table\": \"\xff\"}"),
        body_error("invalid unicode code point at line 1 column 12");
    a_second_json_value_after_the_object:
        "a second JSON value after the object",
        raw("DELETE", T, &[], br#"{"table": "abc"}{"table": "d"}"#),
        body_error("trailing characters at line 1 column 17");
    nan_in_json:
        "NaN in JSON",
        raw("DELETE", T, &[], br#"{"table": NaN}"#),
        body_error("expected value at line 1 column 11");
    a_json_number_beyond_f64:
        "a JSON number beyond f64",
        raw("DELETE", T, &[], br#"{"x": 1e999999, "table": "abc"}"#),
        body_error("number out of range at line 1 column 14");
    a_body_of_one_nul_byte:
        "a body of one NUL byte",
        raw("DELETE", T, &[b"Content-Type: application/json"], b"\0"),
        body_error("expected value at line 1 column 1");
    // --- The item routes: values that are data, not syntax.
    an_artist_header_of_blanks_is_an_empty_key:
        "an artist header of blanks is an empty key",
        raw(
            "PUT",
            I,
            &[
                b"table: Music",
                b"artist: \t \t",
                b"songtitle: t",
                b"albumtitle: a",
            ],
            b"",
        ),
        refused("PutItem", EMPTY_ARTIST);
    cr_lf_in_a_json_value_is_stored_as_data_not_sent_as_a_header:
        "CR LF in a JSON value is stored as data, not sent as a header",
        raw("PUT", I, &[], CRLF_PUT),
        json(200, r#""Item added""#);
    the_cr_lf_value_reads_back_escaped
        after cr_lf_in_a_json_value_is_stored_as_data_not_sent_as_a_header:
        "the CR LF value reads back escaped",
        raw("GET", I, &[], CRLF_GET),
        json(200, CRLF_ITEM);
    nul_and_control_characters_in_json_values_are_stored_as_data:
        "NUL and control characters in JSON values are stored as data",
        raw("POST", I, &[], CONTROL_POST),
        json(200, r#""Item updated""#);
    the_control_characters_read_back_escaped
        after nul_and_control_characters_in_json_values_are_stored_as_data:
        "the control characters read back escaped",
        raw("GET", I, &[], CONTROL_GET),
        json(200, CONTROL_ITEM);
    a_query_with_escaped_ampersand_and_equals_inside_values_from_curl:
        "a query with escaped & and = inside values, from curl",
        curl(
            "-G -X GET",
            I,
            "--data-urlencode 'table=Music' --data-urlencode 'artist=a&table=Other' \
             --data-urlencode 'songtitle=x=y'",
        ),
        json(200, r#""Item not found""#);
    a_get_with_a_json_body_reads_it:
        "a GET with a JSON body reads it",
        raw(
            "GET",
            I,
            &[b"Content-Type: application/json"],
            br#"{"table": "Music", "artist": "nobody", "songtitle": "nothing"}"#,
        ),
        json(200, r#""Item not found""#);
    a_form_encoded_body:
        "a form-encoded body",
        raw(
            "POST",
            I,
            &[b"Content-Type: application/x-www-form-urlencoded"],
            b"artist=a&table=Music",
        ),
        body_error("expected value at line 1 column 1");
    a_gzip_compressed_body_is_refused_as_an_encoding_the_gateway_cannot_read:
        "a gzip-compressed body is refused as an encoding the gateway cannot read",
        raw(
            "POST",
            I,
            &[b"Content-Type: application/json", b"Content-Encoding: gzip"],
            &GZIPPED,
        ),
        json(
            415,
            r#""The request body is encoded with gzip, which the gateway does not decode; send it unencoded.""#,
        );
    an_identity_encoded_body_is_read_as_it_is:
        "an identity-encoded body is read as it is",
        raw(
            "POST",
            I,
            &[
                b"Content-Type: application/json",
                b"Content-Encoding: identity",
            ],
            b"{not json",
        ),
        body_error("key must be a string at line 1 column 2");
    a_delete_with_expect_100_continue_from_curl:
        "a DELETE with Expect: 100-continue, from curl",
        curl(
            "-X DELETE",
            I,
            "-H 'table: Music' -H 'artist: nobody' -H 'songtitle: nothing' \
             -H 'Expect: 100-continue' --data-binary '{}'",
        ),
        json(200, r#""Item deleted""#);
    // --- Methods.
    head_on_the_item_resource_is_405_with_the_headers_of_its_answer_and_no_body:
        "HEAD on the item resource: 405, the headers of its answer and no body",
        raw("HEAD", I, &[], b""),
        json(405, "");
    a_lower_case_method_name_is_another_method:
        "a lower-case method name is another method",
        raw("get", I, &[b"table: Music"], b""),
        not_allowed(I, "get", "GET, PUT, POST, DELETE");
    trace_on_the_item_resource:
        "TRACE",
        raw("TRACE", I, &[], b""),
        not_allowed(I, "TRACE", "GET, PUT, POST, DELETE");
    connect_with_a_path:
        "CONNECT with a path",
        raw("CONNECT", I, &[], b""),
        not_allowed(I, "CONNECT", "GET, PUT, POST, DELETE");
    a_custom_method:
        "a custom method",
        raw("FROB", T, &[b"table: Music"], b""),
        not_allowed(T, "FROB", "PUT, DELETE");
    a_method_with_a_separator_in_it:
        "a method with a separator in it",
        raw("GE(T", I, &[], b""),
        Refused(400);
    // --- Path tricks: only the exact documented paths are routes.
    double_slash_in_the_path:
        "// in the path",
        raw(
            "DELETE",
            "/Test//DemoResourceMusic/DemoResourceMusicItem",
            &[],
            b"",
        ),
        not_found("/Test//DemoResourceMusic/DemoResourceMusicItem");
    percent_2f_for_a_slash:
        "%2F for a slash",
        raw(
            "GET",
            "/Test/DemoResourceMusic%2FDemoResourceMusicItem",
            &[],
            b"",
        ),
        not_found("/Test/DemoResourceMusic%2FDemoResourceMusicItem");
    a_dot_dot_segment_from_curl_path_as_is:
        "a .. segment, from curl --path-as-is",
        curl(
            "--path-as-is -X PUT",
            "/Test/DemoResourceMusic/../DemoResourceMusic/DemoResourceMusicItem",
            "-H 'table: Music'",
        ),
        not_found("/Test/DemoResourceMusic/../DemoResourceMusic/DemoResourceMusicItem");
    a_single_dot_segment:
        "a . segment",
        raw(
            "PUT",
            "/Test/./DemoResourceMusic/DemoResourceMusicTable",
            &[],
            b"",
        ),
        not_found("/Test/./DemoResourceMusic/DemoResourceMusicTable");
    a_trailing_slash_on_the_item_resource:
        "a trailing slash on the item resource",
        raw("GET", format!("{I}/"), &[], b""),
        not_found("/Test/DemoResourceMusic/DemoResourceMusicItem/");
    the_stage_in_capitals:
        "the stage in capitals",
        raw("POST", format!("/TEST{ITEM_PATH}"), &[], b""),
        not_found("/TEST/DemoResourceMusic/DemoResourceMusicItem");
    a_letter_percent_encoded:
        "a letter percent-encoded",
        raw(
            "PUT",
            "/Test/DemoResourceMusic/DemoResourceMusic%54able",
            &[],
            b"",
        ),
        not_found("/Test/DemoResourceMusic/DemoResourceMusic%54able");
    backslashes_for_slashes:
        "backslashes for slashes",
        raw(
            "PUT",
            r"/Test\DemoResourceMusic\DemoResourceMusicTable",
            &[],
            b"",
        ),
        not_found(r"/Test\\DemoResourceMusic\\DemoResourceMusicTable");
    a_path_parameter_after_the_resource:
        "a path parameter after the resource",
        raw("DELETE", format!("{T};jsessionid=1"), &[], b""),
        not_found("/Test/DemoResourceMusic/DemoResourceMusicTable;jsessionid=1");
    raw_utf8_bytes_in_the_path:
        "raw UTF-8 bytes in the path",
        raw("GET", "/Test/\u{e9}", &[], b""),
        not_found(r"/Test/\u00e9");
    percent_ff_in_the_path:
        "%FF in the path",
        raw("GET", "/Test/%FF", &[], b""),
        not_found("/Test/%FF");
    a_control_byte_in_the_path:
        "a control byte in the path",
        raw("GET", b"/Test/\x01", &[], b""),
        Refused(400);
    a_path_of_70_kib:
        "a path of 70 KiB",
        raw("GET", long_path(), &[], b""),
        Refused(414);
    an_empty_request_target:
        "an empty request target",
        bytes(b"PUT  HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n"),
        Refused(400);
    a_target_without_its_leading_slash:
        "a target without its leading slash",
        raw("PUT", &T[1..], &[], b""),
        Refused(400);
    options_star_from_curl_request_target:
        "OPTIONS *, from curl --request-target",
        curl("-X OPTIONS --request-target '*'", "/", ""),
        not_found("*");
    // --- The operational routes.
    healthz_with_an_odd_query_string:
        "/healthz with an odd query string",
        raw("GET", "/healthz?%zz&&&=&%", &[], b""),
        json(200, r#"{"status": "ok"}"#);
    head_healthz:
        "HEAD /healthz",
        raw("HEAD", "/healthz", &[], b""),
        json(200, "");
    healthz_with_a_trailing_slash:
        "/healthz with a trailing slash",
        raw("GET", "/healthz/", &[], b""),
        not_found("/healthz/");
    double_slash_healthz:
        "//healthz",
        raw("GET", "//healthz", &[], b""),
        not_found("//healthz");
    readyz_ignores_a_body_that_is_not_json:
        "/readyz ignores a body that is not JSON",
        raw(
            "GET",
            "/readyz",
            &[b"Content-Type: application/json"],
            b"{not json",
        ),
        json(200, r#"{"status": "ready"}"#);
    head_readyz_with_a_header_that_is_not_utf8:
        "HEAD /readyz with a header that is not UTF-8",
        raw("HEAD", "/readyz", &[b"x-junk: \xff\xfe"], b""),
        Exactly(200, "application/json", "");
    metrics_is_not_served_on_the_public_port:
        "/metrics is not served on the public port",
        raw("GET", "/metrics", &[], b""),
        not_found("/metrics");
}

/// The gateway's address, from its base URL.
fn address(app: &TestApp) -> SocketAddr {
    app.base_url()
        .trim_start_matches("http://")
        .parse()
        .expect("the TestApp listens on an IP address")
}

/// How a raw exchange ended without a complete answer.
#[derive(Debug)]
enum NoAnswer {
    /// No complete answer came back and the connection stayed open until the deadline.
    Hung { received: Vec<u8> },
    /// The connection closed (or was reset) without an HTTP answer.
    Closed { received: Vec<u8> },
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, received) = match self {
            Self::Hung { received } => ("the connection is still open", received),
            Self::Closed { received } => ("the connection closed", received),
        };
        write!(
            f,
            "{what} after {} bytes: {:?}",
            received.len(),
            String::from_utf8_lossy(&received[..received.len().min(300)])
        )
    }
}

/// Sends `request` on a new connection (writing while reading, so that an
/// early answer is seen even when the gateway stops reading) and reads until
/// the gateway closes the connection or `within` is over. A reset after the
/// answer arrived still counts as the answer.
async fn exchange(
    address: SocketAddr,
    request: &[u8],
    within: Duration,
) -> Result<Answer, NoAnswer> {
    let deadline = Instant::now() + within;
    let stream = TcpStream::connect(address)
        .await
        .expect("connect to the gateway");
    let (mut reader, mut writer) = stream.into_split();
    let request = request.to_vec();
    let writing = tokio::spawn(async move {
        // The gateway may answer and close before reading it all.
        let _ = writer.write_all(&request).await;
        // Keep the write half open: a half-close is a signal of its own.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(writer);
    });
    let mut received = Vec::new();
    let mut buffer = [0u8; 64 * 1024];
    let ended = loop {
        match tokio::time::timeout_at(deadline, reader.read(&mut buffer)).await {
            Err(_) => break false,
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    };
    writing.abort();
    match Answer::parse(&received) {
        Some(answer) if ended => Ok(answer),
        _ if ended => Err(NoAnswer::Closed { received }),
        _ => Err(NoAnswer::Hung { received }),
    }
}

async fn send(app: &TestApp, name: &str, request: &Request) -> Answer {
    match request {
        Request::Raw(request) => match exchange(address(app), request, ROW_DEADLINE).await {
            Ok(answer) => answer,
            Err(no_answer) => panic!("{name}: no answer within {ROW_DEADLINE:?}: {no_answer}"),
        },
        Request::Curl(command) => app.run_tutorial_command(command).await,
    }
}

#[track_caller]
fn check(name: &str, answer: &Answer, expect: &Expect) {
    match expect {
        Expect::Json(status, body) => {
            answer.assert_json_for(name, *status, body);
            let id = answer.header("x-request-id");
            assert!(
                id.is_some_and(|id| !id.is_empty()),
                "{name}: no request id: {answer:?}"
            );
            assert_eq!(answer.header("x-amzn-requestid"), id, "{name}: {answer:?}");
        }
        Expect::Refused(status) => {
            assert_eq!(
                (
                    answer.status,
                    answer.body.as_str(),
                    answer.header("content-type")
                ),
                (*status, "", None),
                "{name}: {answer:?}"
            );
        }
        Expect::Exactly(status, content_type, body) => {
            assert_eq!(
                (
                    answer.status,
                    answer.body.as_str(),
                    answer.header("content-type")
                ),
                (*status, *body, Some(*content_type)),
                "{name}: {answer:?}"
            );
        }
    }
    // Nothing a client sends becomes a header of the answer.
    assert_eq!(answer.header("x-injected"), None, "{name}: {answer:?}");
    // 5xx only for DynamoDB's refusals, as the tutorial answers them.
    if answer.status >= 500 {
        assert!(
            answer.body.starts_with(r#""An error occurred ("#),
            "{name}: a 5xx that is not DynamoDB's refusal: {answer:?}"
        );
    }
}

/// One case on a gateway of its own, after the case it reads back (if any);
/// the gateway still serves afterwards.
async fn one_case(case: Case) {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;
    if let Some(after) = case.after {
        let first = after();
        let answer = send(&app, first.name, &first.send).await;
        check(first.name, &answer, &first.expect);
    }
    let answer = send(&app, case.name, &case.send).await;
    check(case.name, &answer, &case.expect);
    app.assert_still_serves().await;
    app.stop().await;
}

/// Every case in turn on one gateway: none leaves it unable to serve the next.
#[tokio::test]
async fn hostile_requests_on_every_route_get_their_exact_answers_and_the_gateway_keeps_serving() {
    let app = TestApp::spawn().await;
    app.create_table("Music").await;
    let cases = all_cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for case in &cases {
        let answer = send(&app, case.name, &case.send).await;
        check(case.name, &answer, &case.expect);
    }
    app.assert_still_serves().await;
    app.stop().await;
}

// --- As the answer should be: one test per case. ----------------------------------------------

/// An answer that should be, where its exact wording is still to be written.
#[derive(Debug)]
enum Should {
    /// This status and a JSON body that mentions each of these.
    JsonMentioning(u16, &'static [&'static str]),
    /// This status, whatever the body (hyper's refusal or the gateway's).
    Status(u16),
}

#[track_caller]
fn check_should(name: &str, answer: &Answer, should: &Should) {
    match should {
        Should::JsonMentioning(status, fragments) => {
            assert_eq!(answer.status, *status, "{name}: {answer:?}");
            assert_eq!(
                answer.header("content-type"),
                Some("application/json"),
                "{name}: {answer:?}"
            );
            for fragment in *fragments {
                assert!(
                    answer.body.contains(fragment),
                    "{name}: no {fragment:?} in {answer:?}"
                );
            }
        }
        Should::Status(status) => assert_eq!(answer.status, *status, "{name}: {answer:?}"),
    }
}

/// One case on a gateway of its own.
async fn should(name: &str, request: Request, should: Should) {
    let app = TestApp::spawn().await;
    let answer = send(&app, name, &request).await;
    check_should(name, &answer, &should);
}

/// Every body read error is answered 413 "larger than 1048576 bytes" (app.rs,
/// `dispatch`: `Err(_) => PAYLOAD_TOO_LARGE`), also when the body is simply
/// malformed: the message sends the client looking for a size problem.
#[tokio::test]
async fn a_malformed_chunked_body_is_a_bad_request_not_a_body_too_large() {
    should(
        "a chunk size that is not hexadecimal",
        put_table(
            "HTTP/1.1",
            "Transfer-Encoding: chunked\n",
            "zz\n{\"table\": \"ab\"}\n0\n\n",
        ),
        Should::JsonMentioning(400, &["request body"]),
    )
    .await;
}

/// Neither hyper (no header read timeout is set) nor the gateway (the body is
/// read with no deadline; the 29 s budget starts only for the gRPC call)
/// bounded how long a client may take to send its request: a Content-Length
/// larger than the body, an unfinished chunked body or unfinished headers
/// held the connection, and a task, forever (observed: > 75 s). A declared
/// Content-Length over the 1 MiB limit was not refused until the bytes came.
mod a_request_that_never_finishes_arriving_is_cut_off_in_bounded_time {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::{NoAnswer, T, address, exchange, framed};
    use crate::helpers::TestApp;

    /// API Gateway's integration budget, and a margin.
    const BOUND: Duration = Duration::from_secs(35);

    /// `request` (`\n` line ends) is answered 408 (or 400) with the
    /// gateway's message, or its connection closed, within [`BOUND`].
    async fn cut_off(name: &str, request: &str) {
        let app = TestApp::spawn().await;
        let started = Instant::now();
        let request = request.replace('\n', "\r\n");
        let outcome = exchange(address(&app), request.as_bytes(), BOUND).await;
        let took = started.elapsed();
        match outcome {
            Ok(answer) => assert!(
                [400, 408].contains(&answer.status),
                "{name}: {answer:?} after {took:?}"
            ),
            Err(NoAnswer::Closed { .. }) => {}
            Err(hung @ NoAnswer::Hung { .. }) => {
                panic!("{name}: no answer after {took:?}: {hung}")
            }
        }
    }

    #[tokio::test]
    async fn a_content_length_of_100_with_10_bytes_sent() {
        cut_off(
            "a Content-Length of 100 with 10 bytes sent",
            &framed("HTTP/1.1", "Content-Length: 100\n", "{\"table\": "),
        )
        .await;
    }

    #[tokio::test]
    async fn a_content_length_of_100_with_10_bytes_sent_parameters_in_the_headers() {
        cut_off(
            "a Content-Length of 100 with 10 bytes sent, parameters in the headers",
            &framed(
                "HTTP/1.1",
                "table: abc\nContent-Length: 100\n",
                "{\"table\": ",
            ),
        )
        .await;
    }

    #[tokio::test]
    async fn a_chunked_body_without_its_last_chunk() {
        cut_off(
            "a chunked body without its last chunk",
            &framed("HTTP/1.1", "Transfer-Encoding: chunked\n", "f\n{\"table\""),
        )
        .await;
    }

    #[tokio::test]
    async fn headers_that_never_end() {
        cut_off(
            "headers that never end",
            &format!("PUT {T} HTTP/1.1\nHost: g\n"),
        )
        .await;
    }

    #[tokio::test]
    async fn a_declared_content_length_of_2_mb_is_refused_at_once() {
        let app = TestApp::spawn().await;
        let started = Instant::now();
        let oversized = exchange(
            address(&app),
            framed("HTTP/1.1", "Content-Length: 2000000\n", "{")
                .replace('\n', "\r\n")
                .as_bytes(),
            Duration::from_secs(5),
        )
        .await;
        match oversized {
            Ok(answer) => answer.assert_json_for(
                "a declared Content-Length of 2 MB",
                413,
                r#""The request body is larger than 1048576 bytes.""#,
            ),
            Err(no_answer) => panic!(
                "a declared Content-Length of 2 MB: no answer after {:?}: {no_answer}",
                started.elapsed()
            ),
        }
    }
}

/// A known path with an unsupported method gets 405 with an Allow header and
/// a JSON body `{"message": "..."}`, as the tutorial's routes do. The
/// operational routes answered axum's own 405: an empty body, no content type.
mod unsupported_methods_on_the_operational_routes_get_the_json_405 {
    use super::{Should, raw, should};

    #[tokio::test]
    async fn post_healthz() {
        should(
            "POST /healthz",
            raw("POST", "/healthz", &[], b""),
            Should::JsonMentioning(405, &["/healthz", "POST", "GET"]),
        )
        .await;
    }

    #[tokio::test]
    async fn delete_readyz() {
        should(
            "DELETE /readyz",
            raw("DELETE", "/readyz", &[], b""),
            Should::JsonMentioning(405, &["/readyz", "DELETE", "GET"]),
        )
        .await;
    }

    #[tokio::test]
    async fn trace_healthz() {
        should(
            "TRACE /healthz",
            raw("TRACE", "/healthz", &[], b""),
            Should::JsonMentioning(405, &["/healthz", "TRACE", "GET"]),
        )
        .await;
    }
}

/// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code
/// to any HTTP/1.1 request message that lacks a Host header field and to any
/// request message that contains more than one Host header field line or a
/// Host header field with an invalid field value." Go's net/http, under
/// grpc-gateway, does; hyper does not by itself.
mod http11_requests_without_exactly_one_valid_host_are_refused {
    use super::{Should, T, lines, raw, should};

    #[tokio::test]
    async fn no_host() {
        should(
            "no Host",
            lines(&format!(
                "PUT {T} HTTP/1.1\ntable: abc\nConnection: close\n\n"
            )),
            Should::Status(400),
        )
        .await;
    }

    #[tokio::test]
    async fn two_hosts() {
        should(
            "two Hosts",
            raw("PUT", T, &[b"Host: other.test", b"table: abc"], b""),
            Should::Status(400),
        )
        .await;
    }

    #[tokio::test]
    async fn a_host_with_a_blank_in_it() {
        should(
            "a Host with a blank in it",
            lines(&format!(
                "PUT {T} HTTP/1.1\nHost: a b\ntable: abc\nConnection: close\n\n"
            )),
            Should::Status(400),
        )
        .await;
    }
}

/// An authority-form target (`CONNECT host:port`) has no path, and the 404
/// names that empty path: "No resource at . Resources: …".
#[tokio::test]
async fn an_authority_form_target_is_named_in_the_404() {
    should(
        "CONNECT gateway.test:443",
        raw("CONNECT", "gateway.test:443", &[], b""),
        Should::JsonMentioning(404, &["No resource at gateway.test:443."]),
    )
    .await;
}

/// Keeps the shared path constants in step with the routes this table names.
#[test]
fn the_table_names_the_documented_paths() {
    assert_eq!(T, format!("/Test{TABLE_PATH}"));
    assert_eq!(I, format!("/Test{ITEM_PATH}"));
}
