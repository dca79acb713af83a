//! The edge scenario's configuration: a resource policy of 20 statements and
//! usage plans with 1,000 API keys, written to files the gateway is started
//! with, so that the bench prices the edge as a protected deployment has it.

use std::{fmt::Write as _, path::Path};

use sha2::{Digest, Sha256};

/// The keys' values are `{KEY_PREFIX}{n}` for n in 0..KEYS.
pub(crate) const KEY_PREFIX: &str = "music-bench-api-key-";
pub(crate) const KEYS: usize = 1000;
/// Statements in the policy: 19 that deny what the bench never asks, one
/// that allows everything; every request is checked against all 20.
const STATEMENTS: usize = 20;

/// Writes `policy.json` and `plans.toml` into `dir` and returns the gateway
/// flags that use them.
pub(crate) fn write_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let policy = dir.join("policy.json");
    let plans = dir.join("plans.toml");
    std::fs::write(&policy, policy_json())?;
    std::fs::write(&plans, plans_toml())?;
    Ok(vec![
        "--resource-policy".into(),
        policy.display().to_string(),
        "--usage-plans".into(),
        plans.display().to_string(),
        "--vpc".into(),
        "vpc-0bench0000000000=10.20.0.0/16".into(),
    ])
}

fn policy_json() -> String {
    let methods = ["PUT", "DELETE", "POST", "PATCH"];
    let mut statements = Vec::with_capacity(STATEMENTS);
    for i in 0..STATEMENTS - 1 {
        let resource = format!(
            "execute-api:/*/{}/DemoResourceMusic/DemoResourceMusic{}",
            methods[i % methods.len()],
            if i % 2 == 0 { "Table" } else { "Item" }
        );
        // Conditions the bench's loopback caller never meets, in each
        // operator family, so each statement is evaluated to its end.
        let condition = match i % 4 {
            0 => format!(r#"{{"IpAddress": {{"aws:SourceIp": ["10.{i}.0.0/16"]}}}}"#),
            1 => format!(r#"{{"StringEquals": {{"aws:SourceVpc": "vpc-0deny{i:012}"}}}}"#),
            2 => format!(r#"{{"StringLike": {{"aws:SourceVpce": "vpce-{i}*"}}}}"#),
            _ => r#"{"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}"#.to_owned(),
        };
        statements.push(format!(
            r#"{{"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "{resource}", "Condition": {condition}}}"#
        ));
    }
    statements.push(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}"#
            .to_owned(),
    );
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
        statements.join(", ")
    )
}

fn plans_toml() -> String {
    // A plan whose throttle and quota are never reached: the bench measures
    // the checks, not the refusals.
    let mut text = String::from(
        r#"api_key_required = ["/DemoResourceMusic/DemoResourceMusicItem/*"]

[[plans]]
id = "bench"
throttle = { rate = 1000000, burst = 1000000 }
quota = { limit = 1000000000000, period = "MONTH" }
"#,
    );
    for n in 0..KEYS {
        let hash = Sha256::digest(format!("{KEY_PREFIX}{n}"));
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let _ = write!(
            text,
            "\n[[keys]]\nid = \"bench-{n}\"\nsha256 = \"{hex}\"\nplan = \"bench\"\n"
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_json_with_twenty_statements() {
        let policy: serde_json::Value = serde_json::from_str(&policy_json()).unwrap();
        assert_eq!(policy["Statement"].as_array().unwrap().len(), STATEMENTS);
    }

    #[test]
    fn the_plans_hold_a_thousand_keys() {
        assert_eq!(plans_toml().matches("[[keys]]").count(), KEYS);
    }
}
