//! Every kind of malformed `/v1` request is a 4xx `google.rpc.Status` that
//! says what is wrong, never a 5xx: bad JSON, unknown fields, wrong types,
//! a page size the service refuses, dot and empty path segments, a body
//! where the rule takes none, bad query parameters, bad encodings, unknown
//! paths (404) and methods (405 with `Allow`), preconditions that cannot be
//! expressed. In both gateway modes.

use music_testkit::Curl;

use crate::support::{Mode, Stack, status};

/// One malformed request: what to send, and the HTTP status and gRPC code
/// of the answer, and a piece of its message.
struct Case {
    what: &'static str,
    request: Box<dyn Fn(&Stack) -> Curl>,
    http: u16,
    code: i64,
    says: &'static str,
}

fn case(
    what: &'static str,
    http: u16,
    code: i64,
    says: &'static str,
    request: impl Fn(&Stack) -> Curl + 'static,
) -> Case {
    Case {
        what,
        request: Box::new(request),
        http,
        code,
        says,
    }
}

fn cases() -> Vec<Case> {
    let song = "/v1/tables/Music/artists/A/songs/S";
    vec![
        case("bad JSON", 400, 3, "EOF while parsing", |s| {
            s.curl("POST", "/v1/tables").data(r#"{"tableName": "#)
        }),
        case("not JSON at all", 400, 3, "at line 1 column", |s| {
            s.curl("POST", "/v1/tables").data("tableName=Music")
        }),
        case(
            "an unknown field",
            400,
            3,
            "unrecognized field name 'color'",
            |s| {
                s.curl("POST", "/v1/tables")
                    .data(r#"{"tableName": "Music", "color": "red"}"#)
            },
        ),
        case("a wrong type", 400, 3, "invalid type", |s| {
            s.curl("POST", "/v1/tables").data(r#"{"tableName": 42}"#)
        }),
        case("a 64-bit integer that is not one", 400, 3, "invalid", |s| {
            s.curl("POST", "/v1/tables").data(
                r#"{"tableName": "M1", "provisionedThroughput": {"readCapacityUnits": "lots"}}"#,
            )
        }),
        case("an array for a message", 400, 3, "invalid type", |s| {
            s.curl("PUT", song).data("[1, 2]")
        }),
        case(
            "a oneof given twice",
            400,
            3,
            "multiple fields provided for oneof",
            |s| {
                s.curl("POST", "/v1/tables/Music/songs:batchWrite").data(
                r#"{"writes": [{"put": {"artist": "A", "songTitle": "S"}, "delete": {"artist": "A", "songTitle": "S"}}]}"#,
            )
            },
        ),
        case(
            "a path field contradicted by the body",
            400,
            3,
            "given by the path",
            |s| {
                s.curl("PATCH", song)
                    .data(r#"{"artist": "B", "albumTitle": "X"}"#)
            },
        ),
        case(
            "an oversized page size (the service's check)",
            400,
            3,
            "page_size",
            |s| s.curl("GET", "/v1/tables?pageSize=5000"),
        ),
        case("an oversized song page size", 400, 3, "page_size", |s| {
            s.curl("GET", "/v1/tables/Music/artists/A/songs?pageSize=1001")
        }),
        case(
            "a page size that is not a number",
            400,
            3,
            "'pageSize' is not an int32",
            |s| s.curl("GET", "/v1/tables?pageSize=ten"),
        ),
        case(
            "an unknown query parameter",
            400,
            3,
            "'colour' is unknown",
            |s| s.curl("GET", "/v1/tables?colour=red"),
        ),
        case(
            "a query parameter for a path field",
            400,
            3,
            "the path already gives",
            |s| s.curl("GET", "/v1/tables/Music?tableName=Other"),
        ),
        case(
            "a query parameter on a body-\"*\" route",
            400,
            3,
            "is not accepted",
            |s| s.curl("POST", "/v1/tables?tableName=Music").data("{}"),
        ),
        case("a '..' segment", 400, 3, "dot segments", |s| {
            s.curl("GET", "/v1/tables/../tables")
        }),
        case("an encoded '..' segment", 400, 3, "dot segments", |s| {
            s.curl("GET", "/v1/tables/%2E%2E")
        }),
        case("an empty segment", 400, 3, "empty segment", |s| {
            s.curl("GET", "/v1/tables//artists/A/songs")
        }),
        case("a trailing slash", 400, 3, "empty segment", |s| {
            s.curl("GET", "/v1/tables/")
        }),
        case(
            "a malformed percent-encoding",
            400,
            3,
            "percent-encoding",
            |s| s.curl("GET", "/v1/tables/Mu%zzsic"),
        ),
        case(
            "a path value that is not UTF-8",
            400,
            3,
            "not valid UTF-8",
            |s| s.curl("GET", "/v1/tables/Music/artists/%FF/songs"),
        ),
        case("a body on GET", 400, 3, "takes no request body", |s| {
            s.curl("GET", "/v1/tables/Music")
                .data(r#"{"tableName": "Music"}"#)
        }),
        case("a body on DELETE", 400, 3, "takes no request body", |s| {
            s.curl("DELETE", song).data(r#"{"etag": "x"}"#)
        }),
        case("an encoded body", 415, 3, "encoded with gzip", |s| {
            s.curl("POST", "/v1/tables")
                .header("Content-Encoding: gzip")
                .data("not really gzip")
        }),
        case("a body over 1 MiB", 413, 3, "larger than", |s| {
            s.curl("POST", "/v1/tables")
                .body_from_stdin(vec![b' '; 1024 * 1024 + 1])
                .tolerate_exit_code()
        }),
        case("If-Match: *", 400, 3, "'*' is not supported", |s| {
            s.curl("PATCH", song).header("If-Match: *").data("{}")
        }),
        case(
            "two etags in If-Match",
            400,
            3,
            "several entity tags",
            |s| {
                s.curl("PATCH", song)
                    .header(r#"If-Match: "a", "b""#)
                    .data("{}")
            },
        ),
        case("a weak etag in If-Match", 412, 9, "weak entity tag", |s| {
            s.curl("PATCH", song)
                .header(r#"If-Match: W/"a""#)
                .data("{}")
        }),
        case(
            "If-None-Match with an etag on PUT",
            400,
            3,
            "takes only '*'",
            |s| {
                s.curl("PUT", song)
                    .header(r#"If-None-Match: "a""#)
                    .data("{}")
            },
        ),
        case(
            "If-Match where there is no precondition",
            400,
            3,
            "takes no precondition",
            |s| {
                s.curl("DELETE", "/v1/tables/Music")
                    .header(r#"If-Match: "a""#)
            },
        ),
        case(
            "an unknown /v1 path",
            404,
            5,
            "No /v1 route at /v1/albums",
            |s| s.curl("GET", "/v1/albums"),
        ),
        case("the API's root", 404, 5, "No /v1 route at /v1;", |s| {
            s.curl("GET", "/v1")
        }),
        case(
            "the API's root with a slash",
            400,
            3,
            "empty segment",
            |s| s.curl("GET", "/v1/"),
        ),
        case("an unknown verb", 404, 5, "No /v1 route", |s| {
            s.curl("POST", "/v1/tables/Music/songs:batchDelete")
                .data("{}")
        }),
        case("a wrong method", 405, 12, "supports GET, POST", |s| {
            s.curl("PUT", "/v1/tables").data("{}")
        }),
        case(
            "a method no route has",
            405,
            12,
            "supports GET, PUT, PATCH, DELETE",
            |s| s.curl("POST", song).data("{}"),
        ),
        case("the service's own checks", 400, 3, "", |s| {
            s.curl("POST", "/v1/tables").data(r#"{"tableName": "x"}"#)
        }),
    ]
}

async fn every_malformed_request_is_a_4xx_status(mode: Mode) {
    let stack = Stack::start(mode, &[]).await;
    stack
        .curl("POST", "/v1/tables")
        .data(r#"{"tableName": "Music"}"#)
        .send()
        .await;
    for case in cases() {
        let answer = (case.request)(&stack).send().await;
        assert!(
            (400..500).contains(&answer.status),
            "{}: never a 5xx: {answer:?}",
            case.what
        );
        let body = status(&answer, case.http, case.code);
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(case.says),
            "{}: {message:?} should say {:?}",
            case.what,
            case.says
        );
        if case.http == 405 {
            let allow = answer.header("allow").expect("405 says what is allowed");
            assert!(
                message.ends_with(&format!("it supports {allow}.")),
                "{}: {answer:?}",
                case.what
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_are_4xx_statuses_with_the_service_in_process() {
    every_malformed_request_is_a_4xx_status(Mode::InProcess).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_are_4xx_statuses_behind_a_pure_gateway() {
    every_malformed_request_is_a_4xx_status(Mode::Pure).await;
}

/// Paths that only begin with the letters of `/v1` are the tutorial's to
/// answer: its 404, which lists its resources, not the `/v1` API's
/// `google.rpc.Status` (the router tells the two apart in its fallback).
#[tokio::test]
async fn paths_that_only_begin_like_v1_get_the_tutorials_404() {
    let gateway = music_testkit::Program::in_process_gateway(&[]).await;
    for path in ["/v1x", "/v10/tables", "//v1/tables"] {
        let answer = Curl::request("GET", format!("{}{path}", gateway.url("http")))
            .send()
            .await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert!(
            answer.body.contains(&format!("No resource at {path}.")),
            "{path}: {}",
            answer.body
        );
    }
}
