//! What the environment says about the stores to test against, with the
//! rule every suite follows: a backend that is not configured is skipped with
//! a note, except under `CI=true`, where no test passes by skipping quietly.
//!
//! Owns: [`is_ci`], [`dynamodb_endpoint`].

const ENDPOINT_VARIABLE: &str = "MUSIC_TEST_DYNAMODB_ENDPOINT";

/// Whether this is a CI run (`CI=true`, or `CI=1`).
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The DynamoDB Local endpoint from `MUSIC_TEST_DYNAMODB_ENDPOINT`; `None`
/// (with a note) when it is not set, and a panic then under CI.
pub fn dynamodb_endpoint() -> Option<String> {
    match std::env::var(ENDPOINT_VARIABLE) {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if is_ci() => panic!(
            "{ENDPOINT_VARIABLE} is not set, and under CI=true every backend must run (use scripts/test.sh)"
        ),
        _ => {
            eprintln!(
                "note: {ENDPOINT_VARIABLE} is not set; skipping DynamoDB Local (scripts/test.sh sets it)"
            );
            None
        }
    }
}
