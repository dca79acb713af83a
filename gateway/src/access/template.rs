//! `--access-log-format`: an access-log line in API Gateway's template
//! syntax, `$context.*` variables in any text (the tutorial pastes API
//! Gateway's JSON example). Parsed once at start (an unknown variable stops
//! the start, naming it); each value is JSON-escaped when written, so a JSON
//! template gives one valid JSON line whatever a client sent; a value the
//! request does not have is `-`, as API Gateway writes it.

use std::fmt::Write as _;

/// The variables, as API Gateway names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    RequestId,
    ExtendedRequestId,
    SourceIp,
    Caller,
    User,
    UserAgent,
    ApiKeyId,
    VpceId,
    RequestTime,
    RequestTimeEpoch,
    HttpMethod,
    ResourcePath,
    Path,
    Status,
    Protocol,
    ResponseLength,
    ResponseLatency,
    IntegrationLatency,
    IntegrationStatus,
    Stage,
    ApiId,
    AccountId,
    DomainName,
    ErrorMessage,
    ErrorResponseType,
    XrayTraceId,
}

/// Every variable's name after `$context.`.
const NAMES: [(&str, Var); 30] = [
    ("requestId", Var::RequestId),
    ("extendedRequestId", Var::ExtendedRequestId),
    ("identity.sourceIp", Var::SourceIp),
    ("identity.caller", Var::Caller),
    ("identity.user", Var::User),
    ("identity.userAgent", Var::UserAgent),
    ("identity.apiKeyId", Var::ApiKeyId),
    ("identity.vpceId", Var::VpceId),
    ("requestTime", Var::RequestTime),
    ("requestTimeEpoch", Var::RequestTimeEpoch),
    ("httpMethod", Var::HttpMethod),
    ("resourcePath", Var::ResourcePath),
    ("path", Var::Path),
    ("status", Var::Status),
    ("protocol", Var::Protocol),
    ("responseLength", Var::ResponseLength),
    ("responseLatency", Var::ResponseLatency),
    ("integrationLatency", Var::IntegrationLatency),
    ("integration.latency", Var::IntegrationLatency),
    ("integrationStatus", Var::IntegrationStatus),
    ("integration.status", Var::IntegrationStatus),
    ("stage", Var::Stage),
    ("apiId", Var::ApiId),
    ("accountId", Var::AccountId),
    ("domainName", Var::DomainName),
    ("error.message", Var::ErrorMessage),
    ("error.messageString", Var::ErrorMessage),
    ("error.responseType", Var::ErrorResponseType),
    ("xrayTraceId", Var::XrayTraceId),
    ("identity.accountId", Var::Caller),
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// A request's values, by variable (`None`: written `-`).
pub trait Values {
    fn value(&self, var: Var, out: &mut String) -> bool;
}

const PREFIX: &str = "$context.";

impl Template {
    /// Parses `text`; an unknown `$context.` variable is an error naming it.
    /// Line breaks become spaces: an access-log entry is one line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.replace(['\r', '\n'], " ");
        let mut parts = Vec::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(PREFIX) {
            if at > 0 {
                parts.push(Part::Text(rest[..at].to_owned()));
            }
            let after = &rest[at + PREFIX.len()..];
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(after.len());
            let name = after[..len].trim_end_matches('.');
            if name == "identity.apiKey" {
                return Err(
                    "$context.identity.apiKey: API key values are never logged; use $context.identity.apiKeyId"
                        .to_owned(),
                );
            }
            let var = NAMES
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, var)| *var)
                .ok_or_else(|| {
                    format!(
                        "unknown variable $context.{name} (known: {})",
                        NAMES
                            .iter()
                            .map(|(n, _)| format!("$context.{n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            parts.push(Part::Var(var));
            rest = &after[name.len()..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The line for one request's values.
    pub fn render(&self, values: &impl Values) -> String {
        let mut line = String::with_capacity(256);
        let mut value = String::with_capacity(64);
        for part in &self.parts {
            match part {
                Part::Text(text) => line.push_str(text),
                Part::Var(var) => {
                    value.clear();
                    if values.value(*var, &mut value) {
                        escape_into(&value, &mut line);
                    } else {
                        line.push('-');
                    }
                }
            }
        }
        line
    }
}

/// JSON's string escapes (without the quotes): `"` `\` and control characters.
fn escape_into(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// API Gateway's documented JSON example, as the tutorial's "Learn more" link gives it.
pub const API_GATEWAY_JSON_EXAMPLE: &str = r#"{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", "caller":"$context.identity.caller", "user":"$context.identity.user","requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath", "status":"$context.status","protocol":"$context.protocol", "responseLength":"$context.responseLength" }"#;

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl Values for Fixed {
        fn value(&self, var: Var, out: &mut String) -> bool {
            match var {
                Var::RequestId => out.push_str("id-1"),
                Var::ResourcePath => out.push_str("/a\"b\\c\n"),
                Var::Status => out.push_str("200"),
                _ => return false,
            }
            true
        }
    }

    #[test]
    fn the_json_example_gives_one_valid_json_line() {
        let template = Template::parse(API_GATEWAY_JSON_EXAMPLE).expect("the example parses");
        let line = template.render(&Fixed);
        assert!(!line.contains('\n'), "{line}");
        let json: serde_json::Value = serde_json::from_str(&line).expect(&line);
        assert_eq!(json["requestId"], "id-1");
        assert_eq!(json["resourcePath"], "/a\"b\\c\n");
        assert_eq!(json["caller"], "-");
    }

    #[test]
    fn unknown_variables_are_named() {
        let error = Template::parse("$context.requestId $context.nonsense.x").unwrap_err();
        assert!(
            error.starts_with("unknown variable $context.nonsense.x"),
            "{error}"
        );
        assert!(Template::parse("$context.identity.apiKey").is_err());
        let clf = Template::parse("$context.identity.sourceIp - [$context.requestTime] \"$context.httpMethod $context.resourcePath\" $context.status.").unwrap();
        assert_eq!(clf.parts.last(), Some(&Part::Text(".".to_owned())));
    }
}
