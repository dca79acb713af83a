//! The resource policy (`--resource-policy FILE`): IAM policy JSON as API
//! Gateway takes it, read with serde into typed statements and compiled once
//! (patterns, CIDRs, the short `execute-api:/…` form expanded to this API's
//! ARN), then evaluated per request without allocating: an explicit Deny
//! wins, then any Allow; with a policy and no Allow, the call is denied.
//!
//! What a statement may say: `Effect` Allow/Deny; `Principal` `"*"` or
//! `{"AWS": "*"}` (callers are anonymous: the gateway authenticates no IAM
//! principal); `Action`/`NotAction` (`execute-api:Invoke`, wildcards);
//! `Resource`/`NotResource` (`execute-api:/{stage}/{METHOD}/{path}` or a full
//! `arn:aws:execute-api:{region}:{account}:{api-id}/…` ARN, wildcards);
//! `Condition` with StringEquals, StringNotEquals, StringLike, StringNotLike,
//! IpAddress, NotIpAddress and each `…IfExists`, on `aws:SourceIp`,
//! `aws:SourceVpc` and `aws:SourceVpce` (names case-insensitive, as IAM's).
//! Anything else is refused at load, naming the statement and the field,
//! rather than silently never matching.

use std::{fmt, net::IpAddr, path::Path};

use ipnet::IpNet;
use serde::Deserialize;
use serde_json::Value;

use super::{network::parse_net, pattern::Pattern};

/// The only action a request performs.
const INVOKE: &str = "execute-api:Invoke";

/// Why a policy could not be used: where, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}{problem}")]
pub struct PolicyError {
    /// `statement 2 (Sid "AllowVpc"): Resource: `, or empty for the document.
    place: String,
    problem: String,
}

impl PolicyError {
    fn document(problem: impl Into<String>) -> Self {
        Self {
            place: String::new(),
            problem: problem.into(),
        }
    }
}

/// This API's ARN, `arn:aws:execute-api:{region}:{account}:{api-id}`, that a
/// request's resource ARN starts with and the short form expands to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiArn {
    prefix: String,
    account: String,
}

impl ApiArn {
    pub fn new(region: &str, account: &str, api_id: &str) -> Self {
        Self {
            prefix: format!("arn:aws:execute-api:{region}:{account}:{api_id}"),
            account: account.to_owned(),
        }
    }

    /// Writes a request's resource ARN into `out` (cleared first):
    /// `{prefix}/{stage}/{METHOD}/{path without its leading slash}`; where
    /// its part after this API's prefix (`{stage}/…`) starts.
    pub fn write(&self, out: &mut String, stage: &str, method: &str, path: &str) -> usize {
        out.clear();
        out.push_str(&self.prefix);
        out.push('/');
        out.push_str(stage);
        out.push('/');
        out.push_str(method);
        out.push('/');
        out.push_str(path.strip_prefix('/').unwrap_or(path));
        self.prefix.len() + 1
    }

    /// A resource ARN as API Gateway's 403 shows it: the account id masked
    /// but for its last four digits.
    pub fn masked(&self, arn: &str) -> String {
        let keep = self.account.len().saturating_sub(4);
        let masked = format!(
            "{}{}",
            "*".repeat(keep),
            &self.account[keep.min(self.account.len())..]
        );
        arn.replacen(&format!(":{}:", self.account), &format!(":{masked}:"), 1)
    }
}

/// What the policy is asked about one request.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The request's resource ARN.
    pub arn: &'a str,
    /// The ARN after this API's prefix: `{stage}/{METHOD}/{path}`.
    pub in_api: &'a str,
    pub source_ip: IpAddr,
    pub vpc: Option<&'a str>,
    pub vpce: Option<&'a str>,
}

/// The policy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Denied by a matching Deny (`explicit`) or for want of a matching Allow.
    Deny {
        explicit: bool,
    },
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    deny: Vec<Statement>,
    allow: Vec<Statement>,
    statements: usize,
    uses_vpc: bool,
    uses_vpce: bool,
}

#[derive(Debug, Clone)]
struct Statement {
    resources: Resources,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
enum Resources {
    /// `Resource`: any of them matches.
    AnyOf(Vec<ResourcePattern>),
    /// `NotResource`: none of them matches.
    NoneOf(Vec<ResourcePattern>),
}

/// A Resource pattern. One that names this API (every short form, and most
/// ARNs) is matched against the request's ARN after the API's prefix, which
/// every request's ARN shares: a shorter subject, the same answer.
#[derive(Debug, Clone)]
struct ResourcePattern {
    pattern: Pattern,
    in_api: bool,
}

impl ResourcePattern {
    fn matches(&self, subject: &Subject<'_>) -> bool {
        self.pattern.matches(if self.in_api {
            subject.in_api
        } else {
            subject.arn
        })
    }
}

/// A condition key: `aws:SourceIp`, `aws:SourceVpc`, `aws:SourceVpce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Ip,
    Vpc,
    Vpce,
}

#[derive(Debug, Clone)]
enum Test {
    Equals(Vec<String>),
    Like(Vec<Pattern>),
    Ip(Vec<IpNet>),
}

#[derive(Debug, Clone)]
struct Condition {
    key: Key,
    test: Test,
    negated: bool,
    if_exists: bool,
}

enum Value2<'a> {
    Ip(IpAddr),
    Text(&'a str),
}

impl Condition {
    /// IAM's rules: the values of one key are alternatives; a key absent
    /// from the request satisfies `…IfExists` and the negated operators
    /// (the tutorial's `StringNotEquals aws:SourceVpc` Deny thus denies a
    /// caller from outside every VPC), and fails the others.
    fn holds(&self, subject: &Subject<'_>) -> bool {
        let value = match self.key {
            Key::Ip => Some(Value2::Ip(subject.source_ip)),
            Key::Vpc => subject.vpc.map(Value2::Text),
            Key::Vpce => subject.vpce.map(Value2::Text),
        };
        let Some(value) = value else {
            return self.if_exists || self.negated;
        };
        let matched = match (&self.test, value) {
            (Test::Equals(values), Value2::Text(text)) => values.iter().any(|v| v == text),
            (Test::Like(patterns), Value2::Text(text)) => patterns.iter().any(|p| p.matches(text)),
            (Test::Ip(nets), Value2::Ip(ip)) => nets.iter().any(|net| net.contains(&ip)),
            // String operators on aws:SourceIp compare its text (rare: no
            // allocation is worth avoiding here).
            (Test::Equals(values), Value2::Ip(ip)) => values.contains(&ip.to_string()),
            (Test::Like(patterns), Value2::Ip(ip)) => {
                let text = ip.to_string();
                patterns.iter().any(|p| p.matches(&text))
            }
            // Refused at load: IP operators take aws:SourceIp only.
            (Test::Ip(_), Value2::Text(_)) => false,
        };
        matched != self.negated
    }
}

impl Statement {
    fn applies(&self, subject: &Subject<'_>) -> bool {
        let resource = match &self.resources {
            Resources::AnyOf(patterns) => patterns.iter().any(|p| p.matches(subject)),
            Resources::NoneOf(patterns) => !patterns.iter().any(|p| p.matches(subject)),
        };
        resource && self.conditions.iter().all(|c| c.holds(subject))
    }
}

impl Policy {
    /// Reads and compiles the policy file.
    pub fn load(path: &Path, arn: &ApiArn) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyError::document(format!("cannot be read: {e}")))?;
        Self::parse(&text, arn)
    }

    /// Compiles a policy document.
    pub fn parse(text: &str, arn: &ApiArn) -> Result<Self, PolicyError> {
        let document: Value = serde_json::from_str(text)
            .map_err(|e| PolicyError::document(format!("is not valid JSON: {e}")))?;
        let Value::Object(document) = document else {
            return Err(PolicyError::document(
                "must be a JSON object with a \"Statement\"",
            ));
        };
        let mut statements = None;
        for (name, value) in document {
            match name.as_str() {
                "Version" => {
                    let version: String = field(value, "Version", "")?;
                    if version != "2012-10-17" && version != "2008-10-17" {
                        return Err(PolicyError::document(format!(
                            "Version: {version:?} is not an IAM policy version (\"2012-10-17\")"
                        )));
                    }
                }
                "Id" => {
                    let _: String = field(value, "Id", "")?;
                }
                "Statement" => {
                    statements = Some(match value {
                        Value::Array(list) => list,
                        one @ Value::Object(_) => vec![one],
                        _ => {
                            return Err(PolicyError::document(
                                "Statement: must be a statement object or a list of them",
                            ));
                        }
                    })
                }
                other => {
                    return Err(PolicyError::document(format!(
                        "unknown field {other:?} (a policy has Version, Id and Statement)"
                    )));
                }
            }
        }
        let statements = statements.ok_or_else(|| PolicyError::document("has no \"Statement\""))?;
        if statements.is_empty() {
            return Err(PolicyError::document("Statement: the list is empty"));
        }
        let mut policy = Policy {
            deny: Vec::new(),
            allow: Vec::new(),
            statements: statements.len(),
            uses_vpc: false,
            uses_vpce: false,
        };
        for (index, statement) in statements.into_iter().enumerate() {
            let sid = statement
                .get("Sid")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let place = match &sid {
                Some(sid) => format!("statement {index} (Sid {sid:?}): "),
                None => format!("statement {index}: "),
            };
            let compiled = compile(statement, arn, &place)?;
            if let Some((effect, statement)) = compiled {
                for condition in &statement.conditions {
                    policy.uses_vpc |= condition.key == Key::Vpc;
                    policy.uses_vpce |= condition.key == Key::Vpce;
                }
                match effect {
                    Effect::Allow => policy.allow.push(statement),
                    Effect::Deny => policy.deny.push(statement),
                }
            }
        }
        Ok(policy)
    }

    pub fn evaluate(&self, subject: &Subject<'_>) -> Decision {
        if self.deny.iter().any(|s| s.applies(subject)) {
            return Decision::Deny { explicit: true };
        }
        if self.allow.iter().any(|s| s.applies(subject)) {
            Decision::Allow
        } else {
            Decision::Deny { explicit: false }
        }
    }

    /// Statements in the document.
    pub fn statements(&self) -> usize {
        self.statements
    }

    /// Whether any condition reads `aws:SourceVpc` (else it is not looked up).
    pub fn uses_vpc(&self) -> bool {
        self.uses_vpc
    }

    /// Whether any condition reads `aws:SourceVpce`.
    pub fn uses_vpce(&self) -> bool {
        self.uses_vpce
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum Effect {
    Allow,
    Deny,
}

/// A string or a list of strings, as IAM lets most fields be.
#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

/// One field read with serde, its error naming the field.
fn field<T: for<'de> Deserialize<'de>>(
    value: Value,
    name: &str,
    place: &str,
) -> Result<T, PolicyError> {
    serde_json::from_value(value).map_err(|e| PolicyError {
        place: place.to_owned(),
        problem: format!("{name}: {e}"),
    })
}

fn strings(value: Value, name: &str, place: &str) -> Result<Vec<String>, PolicyError> {
    let list = serde_json::from_value::<StringOrList>(value)
        .map_err(|_| PolicyError {
            place: place.to_owned(),
            problem: format!("{name}: must be a string or a list of strings"),
        })?
        .into_vec();
    if list.is_empty() {
        return Err(PolicyError {
            place: place.to_owned(),
            problem: format!("{name}: the list is empty"),
        });
    }
    Ok(list)
}

/// A statement's fields, read one by one so that an error names its field.
#[derive(Default)]
struct RawStatement {
    effect: Option<Effect>,
    principal: Option<Value>,
    action: Option<(bool, Vec<String>)>,
    resource: Option<(bool, Vec<String>)>,
    condition: Option<Value>,
}

/// Compiles one statement; `None` when it can never apply to a request
/// (its actions do not cover `execute-api:Invoke`).
fn compile(
    statement: Value,
    arn: &ApiArn,
    place: &str,
) -> Result<Option<(Effect, Statement)>, PolicyError> {
    let at = |problem: String| PolicyError {
        place: place.to_owned(),
        problem,
    };
    let Value::Object(fields) = statement else {
        return Err(at("must be a JSON object".to_owned()));
    };
    let mut raw = RawStatement::default();
    let twice = |name: &str| {
        at(format!(
            "{name}: given together with its Not… twin; give one"
        ))
    };
    for (name, value) in fields {
        match name.as_str() {
            "Sid" => {
                let _: String = field(value, "Sid", place)?;
            }
            "Effect" => raw.effect = Some(field(value, "Effect", place)?),
            "Principal" => raw.principal = Some(value),
            "NotPrincipal" => {
                return Err(at(
                    "NotPrincipal: not supported (callers are anonymous; use \"Principal\": \"*\")"
                        .to_owned(),
                ));
            }
            "Action" | "NotAction" => {
                if raw.action.is_some() {
                    return Err(twice("Action"));
                }
                raw.action = Some((name == "NotAction", strings(value, &name, place)?));
            }
            "Resource" | "NotResource" => {
                if raw.resource.is_some() {
                    return Err(twice("Resource"));
                }
                raw.resource = Some((name == "NotResource", strings(value, &name, place)?));
            }
            "Condition" => raw.condition = Some(value),
            other => {
                return Err(at(format!(
                    "unknown field {other:?} (a statement has Sid, Effect, Principal, Action or NotAction, Resource or NotResource, Condition)"
                )));
            }
        }
    }
    let effect = raw
        .effect
        .ok_or_else(|| at("Effect: missing (\"Allow\" or \"Deny\")".to_owned()))?;
    let principal = raw
        .principal
        .ok_or_else(|| at("Principal: missing (\"*\")".to_owned()))?;
    check_principal(&principal).map_err(at)?;
    let (not_action, actions) = raw
        .action
        .ok_or_else(|| at("Action: missing (\"execute-api:Invoke\")".to_owned()))?;
    let field_name = if not_action { "NotAction" } else { "Action" };
    for action in &actions {
        reject_placeholder(action).map_err(|p| at(format!("{field_name}: {p}")))?;
        if action != "*" && !action.contains(':') {
            return Err(at(format!(
                "{field_name}: {action:?} is not an action (\"service:Action\", e.g. \"execute-api:Invoke\")"
            )));
        }
    }
    let covers_invoke = actions
        .iter()
        .any(|a| Pattern::new(a).matches_ignoring_case(INVOKE));
    let (not_resource, resources) = raw
        .resource
        .ok_or_else(|| at("Resource: missing (e.g. \"execute-api:/*/*/*\")".to_owned()))?;
    let field_name = if not_resource {
        "NotResource"
    } else {
        "Resource"
    };
    let patterns = resources
        .iter()
        .map(|r| resource_pattern(r, arn).map_err(|p| at(format!("{field_name}: {p}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let conditions = match raw.condition {
        None => Vec::new(),
        Some(value) => conditions(value, place)?,
    };
    if covers_invoke == not_action {
        return Ok(None);
    }
    Ok(Some((
        effect,
        Statement {
            resources: if not_resource {
                Resources::NoneOf(patterns)
            } else {
                Resources::AnyOf(patterns)
            },
            conditions,
        },
    )))
}

fn check_principal(principal: &Value) -> Result<(), String> {
    let star = |value: &Value| match value {
        Value::String(s) => s == "*",
        Value::Array(list) => !list.is_empty() && list.iter().all(|v| v == "*"),
        _ => false,
    };
    let ok = match principal {
        Value::String(s) => s == "*",
        Value::Object(map) => map.len() == 1 && map.get("AWS").is_some_and(star),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Principal: {principal} is not supported; callers are anonymous, so only \"*\" or {{\"AWS\": \"*\"}} can match them"
        ))
    }
}

/// The tutorial's template holds `{{placeholders}}` that must be filled.
fn reject_placeholder(text: &str) -> Result<(), String> {
    match (text.find("{{"), text.find("}}")) {
        (Some(start), Some(end)) if end > start => Err(format!(
            "{text:?} still holds the template's placeholder {}; fill it in",
            &text[start..end + 2]
        )),
        _ => Ok(()),
    }
}

/// A Resource as a pattern over full ARNs; the short form
/// `execute-api:/{stage}/{METHOD}/{path}` names this API.
fn resource_pattern(resource: &str, arn: &ApiArn) -> Result<ResourcePattern, String> {
    let full = full_resource(resource, arn)?;
    let own = format!("{}/", arn.prefix);
    Ok(match full.strip_prefix(own.as_str()) {
        Some(in_api) => ResourcePattern {
            pattern: Pattern::new(in_api),
            in_api: true,
        },
        None => ResourcePattern {
            pattern: Pattern::new(&full),
            in_api: false,
        },
    })
}

/// A Resource as a pattern over full ARNs.
fn full_resource(resource: &str, arn: &ApiArn) -> Result<String, String> {
    reject_placeholder(resource)?;
    if resource == "*" {
        return Ok("*".to_owned());
    }
    if let Some(rest) = resource.strip_prefix("execute-api:") {
        let rest = rest.strip_prefix('/').ok_or_else(|| {
            format!("{resource:?}: the short form is execute-api:/{{stage}}/{{METHOD}}/{{path}}")
        })?;
        return Ok(format!("{}/{rest}", arn.prefix));
    }
    let mut parts = resource.splitn(6, ':');
    let (arn_word, _partition, service) = (parts.next(), parts.next(), parts.next());
    if arn_word != Some("arn") || parts.clone().count() != 3 {
        return Err(format!(
            "{resource:?} is neither execute-api:/{{stage}}/{{METHOD}}/{{path}} nor an ARN (arn:aws:execute-api:{{region}}:{{account}}:{{api-id}}/…)"
        ));
    }
    if !service.is_some_and(|s| Pattern::new(s).matches("execute-api")) {
        return Err(format!(
            "{resource:?} is not an execute-api ARN (arn:aws:execute-api:…)"
        ));
    }
    Ok(resource.to_owned())
}

fn conditions(value: Value, place: &str) -> Result<Vec<Condition>, PolicyError> {
    let at = |problem: String| PolicyError {
        place: place.to_owned(),
        problem: format!("Condition: {problem}"),
    };
    let Value::Object(operators) = value else {
        return Err(at("must be an object of operators".to_owned()));
    };
    let mut compiled = Vec::new();
    for (operator, keys) in operators {
        let (base, if_exists) = match operator.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (operator.as_str(), false),
        };
        let (negated, kind) = match base {
            "StringEquals" => (false, "equals"),
            "StringNotEquals" => (true, "equals"),
            "StringLike" => (false, "like"),
            "StringNotLike" => (true, "like"),
            "IpAddress" => (false, "ip"),
            "NotIpAddress" => (true, "ip"),
            _ => {
                return Err(at(format!(
                    "operator {operator:?} is not supported (StringEquals, StringNotEquals, StringLike, StringNotLike, IpAddress, NotIpAddress, each also …IfExists)"
                )));
            }
        };
        let Value::Object(keys) = keys else {
            return Err(at(format!(
                "{operator}: must be an object of condition keys"
            )));
        };
        if keys.is_empty() {
            return Err(at(format!("{operator}: names no condition key")));
        }
        for (key_name, values) in keys {
            compiled.push(
                condition(&operator, &key_name, values, negated, kind, if_exists)
                    .map_err(|problem| at(format!("{operator}: {key_name:?}: {problem}")))?,
            );
        }
    }
    Ok(compiled)
}

fn condition(
    operator: &str,
    key_name: &str,
    values: Value,
    negated: bool,
    kind: &str,
    if_exists: bool,
) -> Result<Condition, String> {
    let key = match key_name.to_ascii_lowercase().as_str() {
        "aws:sourceip" => Key::Ip,
        "aws:sourcevpc" => Key::Vpc,
        "aws:sourcevpce" => Key::Vpce,
        _ => {
            return Err(
                "not a condition key the gateway knows (aws:SourceIp, aws:SourceVpc, aws:SourceVpce)"
                    .to_owned(),
            );
        }
    };
    let values = serde_json::from_value::<StringOrList>(values)
        .map_err(|_| "the values must be a string or a list of strings".to_owned())?
        .into_vec();
    if values.is_empty() {
        return Err("the list of values is empty".to_owned());
    }
    for value in &values {
        reject_placeholder(value)?;
    }
    let test = match kind {
        "equals" => Test::Equals(values),
        "like" => Test::Like(values.iter().map(|v| Pattern::new(v)).collect()),
        _ => {
            if key != Key::Ip {
                return Err(format!(
                    "{operator} compares addresses: use it with aws:SourceIp"
                ));
            }
            Test::Ip(
                values
                    .iter()
                    .map(|v| parse_net(v))
                    .collect::<Result<_, _>>()?,
            )
        }
    };
    Ok(Condition {
        key,
        test,
        negated,
        if_exists,
    })
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Allow => "allow",
            Self::Deny { explicit: true } => "explicit deny",
            Self::Deny { explicit: false } => "no allow",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn() -> ApiArn {
        ApiArn::new("us-east-1", "000000000000", "music-api")
    }

    fn subject<'a>(
        buf: &'a mut String,
        method: &str,
        path: &str,
        ip: &str,
        vpc: Option<&'a str>,
    ) -> Subject<'a> {
        let at = arn().write(buf, "Test", method, path);
        Subject {
            arn: buf,
            in_api: &buf[at..],
            source_ip: ip.parse().unwrap(),
            vpc,
            vpce: None,
        }
    }

    /// The tutorial's template, with its placeholders filled.
    const TUTORIAL: &str = r#"{"Version": "2012-10-17","Statement": [{"Effect": "Deny","Principal": "*","Action": "execute-api:Invoke","Resource": "execute-api:/*/*/*","Condition": {"StringNotEquals": {"aws:sourceVpc": "vpc-1234"}}},{"Effect": "Allow","Principal": "*","Action": "execute-api:Invoke","Resource": "execute-api:/*/*/*"}]}"#;

    #[test]
    fn the_tutorials_template_admits_its_vpc_only() {
        let policy = Policy::parse(TUTORIAL, &arn()).expect("the template parses");
        assert_eq!(policy.statements(), 2);
        assert!(policy.uses_vpc());
        let mut buf = String::new();
        let path = "/DemoResourceMusic/DemoResourceMusicTable";
        assert_eq!(
            policy.evaluate(&subject(
                &mut buf,
                "PUT",
                path,
                "10.0.0.1",
                Some("vpc-1234")
            )),
            Decision::Allow
        );
        assert_eq!(
            policy.evaluate(&subject(&mut buf, "PUT", path, "10.0.0.1", None)),
            Decision::Deny { explicit: true }
        );
        assert_eq!(
            policy.evaluate(&subject(
                &mut buf,
                "PUT",
                path,
                "10.0.0.1",
                Some("vpc-other")
            )),
            Decision::Deny { explicit: true }
        );
        assert_eq!(
            buf,
            "arn:aws:execute-api:us-east-1:000000000000:music-api/Test/PUT/DemoResourceMusic/DemoResourceMusicTable"
        );
        assert_eq!(
            arn().masked(&buf),
            "arn:aws:execute-api:us-east-1:********0000:music-api/Test/PUT/DemoResourceMusic/DemoResourceMusicTable"
        );
    }

    #[test]
    fn mistakes_name_the_statement_and_field() {
        let cases = [
            ("{", "is not valid JSON"),
            (r#"[]"#, "must be a JSON object"),
            (r#"{"Statement": []}"#, "Statement: the list is empty"),
            (r#"{"Version": "2020-01-01", "Statement": {}}"#, "Version"),
            (
                r#"{"Statement": [{"Sid": "A", "Efect": "Allow"}]}"#,
                r#"statement 0 (Sid "A"): unknown field "Efect""#,
            ),
            (
                r#"{"Statement": [{"Effect": "allow"}]}"#,
                "statement 0: Effect: unknown variant `allow`",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "*", "Resource": "*"}]}"#,
                "statement 0: Principal:",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "Invoke", "Resource": "*"}]}"#,
                "statement 0: Action: \"Invoke\" is not an action",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]}"#,
                "statement 0: Resource: missing",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "execute-api:/{{stageNameOrWildcard}}/*/*"}]}"#,
                "statement 0: Resource: \"execute-api:/{{stageNameOrWildcard}}/*/*\" still holds the template's placeholder {{stageNameOrWildcard}}",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "arn:aws:s3:::bucket/*"}]}"#,
                "not an execute-api ARN",
            ),
            (
                r#"{"Statement": [{"Sid": "C", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEqualsIgnoreCase": {"aws:SourceVpc": "v"}}}]}"#,
                r#"statement 0 (Sid "C"): Condition: operator "StringEqualsIgnoreCase" is not supported"#,
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceArn": "v"}}}]}"#,
                r#"Condition: StringEquals: "aws:SourceArn": not a condition key"#,
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}}]}"#,
                "is not an IP address or CIDR range",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceVpc": "10.0.0.0/8"}}}]}"#,
                "use it with aws:SourceIp",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": 3}]}"#,
                "Resource: must be a string or a list of strings",
            ),
        ];
        for (text, expected) in cases {
            let error = Policy::parse(text, &arn()).expect_err(text).to_string();
            assert!(
                error.contains(expected),
                "{text}\n  gave: {error}\n  not: {expected}"
            );
        }
    }

    /// A small reference model of the evaluation, written from IAM's rules
    /// rather than from the code above, over a small world of requests.
    mod model {
        use proptest::prelude::*;

        use super::super::*;

        const METHODS: [&str; 3] = ["GET", "PUT", "DELETE"];
        const PATHS: [&str; 3] = [
            "DemoResourceMusic/DemoResourceMusicTable",
            "DemoResourceMusic/DemoResourceMusicItem",
            "v1/tables",
        ];
        const IPS: [&str; 3] = ["127.0.0.1", "127.0.0.2", "10.0.0.1"];
        const VPCS: [&str; 3] = ["vpc-a", "vpc-b", "vpc-c"];

        #[derive(Debug, Clone, Copy, PartialEq)]
        enum Op {
            Equals,
            NotEquals,
            Like,
            NotLike,
            Ip,
            NotIp,
        }

        #[derive(Debug, Clone)]
        struct Cond {
            op: Op,
            if_exists: bool,
            /// aws:SourceVpc (string operators) or aws:SourceIp (IP operators).
            values: Vec<String>,
        }

        #[derive(Debug, Clone)]
        struct Spec {
            deny: bool,
            not_resource: bool,
            stage: Option<&'static str>,
            method: Option<&'static str>,
            path: Option<&'static str>,
            cond: Option<Cond>,
        }

        #[derive(Debug, Clone)]
        struct Req {
            method: &'static str,
            path: &'static str,
            ip: &'static str,
            vpc: Option<&'static str>,
        }

        fn cond() -> impl Strategy<Value = Cond> {
            let op = prop::sample::select(vec![
                Op::Equals,
                Op::NotEquals,
                Op::Like,
                Op::NotLike,
                Op::Ip,
                Op::NotIp,
            ]);
            (op, any::<bool>(), 1..3usize, any::<u8>()).prop_map(|(op, if_exists, n, seed)| {
                let values = (0..n)
                    .map(|i| {
                        let pick = (seed as usize + i) % 3;
                        match op {
                            Op::Equals | Op::NotEquals => VPCS[pick].to_owned(),
                            // Exact names, or a prefix with `*`.
                            Op::Like | Op::NotLike => {
                                if pick == 2 {
                                    "vpc-*".to_owned()
                                } else {
                                    VPCS[pick].to_owned()
                                }
                            }
                            Op::Ip | Op::NotIp => {
                                ["127.0.0.0/31", "127.0.0.2/32", "10.0.0.0/8"][pick].to_owned()
                            }
                        }
                    })
                    .collect();
                Cond {
                    op,
                    if_exists,
                    values,
                }
            })
        }

        fn spec() -> impl Strategy<Value = Spec> {
            (
                any::<bool>(),
                prop::bool::weighted(0.2),
                prop::option::of(prop::sample::select(vec!["Test", "Prod"])),
                prop::option::of(prop::sample::select(METHODS.to_vec())),
                prop::option::of(prop::sample::select(PATHS.to_vec())),
                prop::option::weighted(0.6, cond()),
            )
                .prop_map(|(deny, not_resource, stage, method, path, cond)| Spec {
                    deny,
                    not_resource,
                    stage,
                    method,
                    path,
                    cond,
                })
        }

        fn req() -> impl Strategy<Value = Req> {
            (
                prop::sample::select(METHODS.to_vec()),
                prop::sample::select(PATHS.to_vec()),
                prop::sample::select(IPS.to_vec()),
                prop::option::of(prop::sample::select(VPCS.to_vec())),
            )
                .prop_map(|(method, path, ip, vpc)| Req {
                    method,
                    path,
                    ip,
                    vpc,
                })
        }

        fn json(specs: &[Spec]) -> String {
            let statements: Vec<serde_json::Value> = specs
                .iter()
                .map(|s| {
                    let resource = format!(
                        "execute-api:/{}/{}/{}",
                        s.stage.unwrap_or("*"),
                        s.method.unwrap_or("*"),
                        s.path.unwrap_or("*")
                    );
                    let mut statement = serde_json::json!({
                        "Effect": if s.deny { "Deny" } else { "Allow" },
                        "Principal": "*",
                        "Action": "execute-api:Invoke",
                    });
                    statement[if s.not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    }] = resource.into();
                    if let Some(c) = &s.cond {
                        let base = match c.op {
                            Op::Equals => "StringEquals",
                            Op::NotEquals => "StringNotEquals",
                            Op::Like => "StringLike",
                            Op::NotLike => "StringNotLike",
                            Op::Ip => "IpAddress",
                            Op::NotIp => "NotIpAddress",
                        };
                        let op = format!("{base}{}", if c.if_exists { "IfExists" } else { "" });
                        let key = if matches!(c.op, Op::Ip | Op::NotIp) {
                            "aws:SourceIp"
                        } else {
                            "aws:sourceVpc"
                        };
                        statement["Condition"] = serde_json::json!({ op: { key: c.values } });
                    }
                    statement
                })
                .collect();
            serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
        }

        fn in_cidr(ip: &str, cidr: &str) -> bool {
            match cidr {
                "127.0.0.0/31" => ip == "127.0.0.0" || ip == "127.0.0.1",
                "127.0.0.2/32" => ip == "127.0.0.2",
                "10.0.0.0/8" => ip.starts_with("10."),
                _ => unreachable!(),
            }
        }

        /// IAM's rules, by the book.
        fn reference(specs: &[Spec], req: &Req) -> Decision {
            let resource_matches = |s: &Spec| {
                let named = s.stage.is_none_or(|v| v == "Test")
                    && s.method.is_none_or(|v| v == req.method)
                    && s.path.is_none_or(|v| v == req.path);
                named != s.not_resource
            };
            let condition_holds = |c: &Cond| {
                let negated = matches!(c.op, Op::NotEquals | Op::NotLike | Op::NotIp);
                let present: Option<bool> = match c.op {
                    Op::Equals | Op::NotEquals => req.vpc.map(|v| c.values.iter().any(|x| x == v)),
                    Op::Like | Op::NotLike => req.vpc.map(|v| {
                        c.values.iter().any(|x| match x.strip_suffix('*') {
                            Some(prefix) => v.starts_with(prefix),
                            None => x == v,
                        })
                    }),
                    Op::Ip | Op::NotIp => Some(c.values.iter().any(|x| in_cidr(req.ip, x))),
                };
                match present {
                    // A missing key: true for …IfExists and for negated operators.
                    None => c.if_exists || negated,
                    Some(matched) => matched != negated,
                }
            };
            let applies =
                |s: &Spec| resource_matches(s) && s.cond.as_ref().is_none_or(condition_holds);
            if specs.iter().any(|s| s.deny && applies(s)) {
                Decision::Deny { explicit: true }
            } else if specs.iter().any(|s| !s.deny && applies(s)) {
                Decision::Allow
            } else {
                Decision::Deny { explicit: false }
            }
        }

        fn evaluate(policy: &Policy, req: &Req) -> Decision {
            let mut buf = String::new();
            let arn = ApiArn::new("us-east-1", "000000000000", "music-api");
            let at = arn.write(&mut buf, "Test", req.method, req.path);
            policy.evaluate(&Subject {
                arn: &buf,
                in_api: &buf[at..],
                source_ip: req.ip.parse().unwrap(),
                vpc: req.vpc,
                vpce: None,
            })
        }

        proptest! {
            #[test]
            fn the_evaluator_agrees_with_the_reference(
                specs in prop::collection::vec(spec(), 1..6),
                reqs in prop::collection::vec(req(), 1..8),
            ) {
                let arn = ApiArn::new("us-east-1", "000000000000", "music-api");
                let policy = Policy::parse(&json(&specs), &arn).expect("generated policies parse");
                for req in &reqs {
                    prop_assert_eq!(evaluate(&policy, req), reference(&specs, req), "{:?}", req);
                }
            }

            #[test]
            fn an_explicit_deny_always_wins(
                specs in prop::collection::vec(spec(), 0..6),
                req in req(),
            ) {
                let mut specs = specs;
                // A Deny naming exactly this request, unconditionally, anywhere in the list.
                let deny = Spec {
                    deny: true,
                    not_resource: false,
                    stage: Some("Test"),
                    method: Some(req.method),
                    path: Some(req.path),
                    cond: None,
                };
                let at = specs.len() / 2;
                specs.insert(at, deny);
                let arn = ApiArn::new("us-east-1", "000000000000", "music-api");
                let policy = Policy::parse(&json(&specs), &arn).expect("generated policies parse");
                prop_assert_eq!(evaluate(&policy, &req), Decision::Deny { explicit: true });
            }
        }
    }
}
