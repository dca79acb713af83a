//! API keys and usage plans (`--usage-plans FILE`, TOML, or JSON when the
//! file name ends in `.json`): plans with a throttle, per-method throttle
//! overrides and a quota; keys bound to plans; the methods that need a key.
//!
//! A key is kept only as the SHA-256 of its value (hex), so the file holds
//! no secret: `printf %s "$KEY" | sha256sum`. A presented `x-api-key` is
//! hashed, looked up by its hash, and the hashes compared in constant time
//! (subtle); a key's value is never logged, only its `id`.
//!
//! ```toml
//! api_key_required = ["/DemoResourceMusic/DemoResourceMusicItem/*", "/v1/*"]
//!
//! [[plans]]
//! id = "basic"
//! throttle = { rate = 10, burst = 20 }
//! quota = { limit = 1000, period = "DAY" }      # DAY, WEEK (from Monday) or MONTH, UTC
//! methods = { "/DemoResourceMusic/DemoResourceMusicItem/GET" = { rate = 5, burst = 5 } }
//!
//! [[keys]]
//! id = "alice"
//! sha256 = "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90"
//! plan = "basic"
//! enabled = true                                 # the default
//! ```

use std::{collections::HashMap, path::Path, sync::Arc};

use http::Method;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::throttle::{Limiter, MethodLimiters, MethodPattern, Throttle};

/// A quota's period, counted in UTC: a calendar day, a week from Monday, a
/// calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Period {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub limit: u64,
    pub period: Period,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    api_key_required: Vec<String>,
    #[serde(default)]
    plans: Vec<PlanFile>,
    #[serde(default)]
    keys: Vec<KeyFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    id: String,
    throttle: Option<Throttle>,
    quota: Option<Quota>,
    /// `RESOURCE/METHOD` → throttle; a request takes the most specific
    /// pattern that matches it (fewest wildcards, then the longest).
    #[serde(default)]
    methods: std::collections::BTreeMap<String, Throttle>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    id: String,
    sha256: String,
    plan: String,
    #[serde(default = "enabled")]
    enabled: bool,
}

fn enabled() -> bool {
    true
}

/// One API key, compiled: its plan's buckets are its own (a plan's throttle
/// applies to each of its keys).
#[derive(Debug)]
pub struct ApiKey {
    /// The key's id: what logs and metrics name it by.
    pub id: Arc<str>,
    hash: [u8; 32],
    pub enabled: bool,
    /// The plan's id.
    pub plan: Arc<str>,
    pub quota: Option<Quota>,
    throttle: Option<Limiter>,
    methods: MethodLimiters,
}

impl ApiKey {
    /// The plan's per-method bucket, then the plan's bucket.
    pub fn throttle(&self, resource: &str, method: &Method) -> Result<(), std::time::Duration> {
        self.methods.check(resource, method)?;
        match &self.throttle {
            Some(limiter) => limiter.check(),
            None => Ok(()),
        }
    }
}

/// The compiled usage plans.
#[derive(Debug, Default)]
pub struct UsagePlans {
    required: Vec<MethodPattern>,
    by_hash: HashMap<[u8; 32], usize>,
    keys: Vec<ApiKey>,
}

/// What a key-required request presented.
#[derive(Debug)]
pub enum Presented<'a> {
    Missing,
    Unknown,
    Disabled(&'a ApiKey, usize),
    Valid(&'a ApiKey, usize),
}

impl UsagePlans {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot be read: {e}"))?;
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        Self::parse(&text, json)
    }

    /// Compiles a usage-plan document (JSON, or TOML).
    pub fn parse(text: &str, json: bool) -> Result<Self, String> {
        let file: File = if json {
            serde_json::from_str(text).map_err(|e| format!("is not a usage-plan file: {e}"))?
        } else {
            toml::from_str(text).map_err(|e| format!("is not a usage-plan file: {e}"))?
        };
        let required = file
            .api_key_required
            .iter()
            .map(|p| p.parse().map_err(|e| format!("api_key_required: {e}")))
            .collect::<Result<Vec<MethodPattern>, _>>()?;
        let mut plans = HashMap::new();
        for (index, plan) in file.plans.iter().enumerate() {
            let at = |problem: String| format!("plans[{index}] ({:?}): {problem}", plan.id);
            if plan.id.is_empty() {
                return Err(at("id: empty".to_owned()));
            }
            if let Some(throttle) = &plan.throttle {
                throttle.check().map_err(|e| at(format!("throttle: {e}")))?;
            }
            for (pattern, throttle) in &plan.methods {
                pattern
                    .parse::<MethodPattern>()
                    .map_err(|e| at(format!("methods: {e}")))?;
                throttle
                    .check()
                    .map_err(|e| at(format!("methods: {pattern}: {e}")))?;
            }
            if plans.insert(plan.id.as_str(), plan).is_some() {
                return Err(at("id: another plan has the same id".to_owned()));
            }
        }
        let mut compiled = UsagePlans {
            required,
            by_hash: HashMap::with_capacity(file.keys.len()),
            keys: Vec::with_capacity(file.keys.len()),
        };
        let mut ids = std::collections::HashSet::new();
        for (index, key) in file.keys.iter().enumerate() {
            let at = |problem: String| format!("keys[{index}] ({:?}): {problem}", key.id);
            if key.id.is_empty() || key.id.len() > 128 || key.id.contains(['/', '"', '\\']) {
                return Err(at(
                    "id: 1 to 128 characters, without '/', '\"' or '\\'".to_owned()
                ));
            }
            if !ids.insert(key.id.as_str()) {
                return Err(at("id: another key has the same id".to_owned()));
            }
            let hash = parse_hash(&key.sha256).map_err(|e| at(format!("sha256: {e}")))?;
            let plan = plans
                .get(key.plan.as_str())
                .ok_or_else(|| at(format!("plan: no plan has the id {:?}", key.plan)))?;
            if compiled.by_hash.insert(hash, compiled.keys.len()).is_some() {
                return Err(at("sha256: another key has the same hash".to_owned()));
            }
            compiled.keys.push(ApiKey {
                id: key.id.as_str().into(),
                hash,
                enabled: key.enabled,
                plan: plan.id.as_str().into(),
                quota: plan.quota,
                throttle: plan.throttle.map(Limiter::new),
                methods: MethodLimiters::new(by_specificity(&plan.methods)),
            });
        }
        Ok(compiled)
    }

    /// Whether a method needs a key.
    pub fn requires_key(&self, resource: &str, method: &Method) -> bool {
        self.required.iter().any(|p| p.matches(resource, method))
    }

    /// The key an `x-api-key` value names.
    pub fn find(&self, presented: Option<&[u8]>) -> Presented<'_> {
        let Some(value) = presented.filter(|v| !v.is_empty()) else {
            return Presented::Missing;
        };
        let hash: [u8; 32] = Sha256::digest(value).into();
        // The lookup is by a hash of the secret, which leaks nothing of it;
        // the final comparison is in constant time all the same.
        let Some(&index) = self.by_hash.get(&hash) else {
            return Presented::Unknown;
        };
        let key = &self.keys[index];
        if !bool::from(key.hash.ct_eq(&hash)) {
            return Presented::Unknown;
        }
        if key.enabled {
            Presented::Valid(key, index)
        } else {
            Presented::Disabled(key, index)
        }
    }

    pub fn keys(&self) -> &[ApiKey] {
        &self.keys
    }
}

/// Method overrides, the most specific first: fewer wildcards, then longer.
fn by_specificity(
    methods: &std::collections::BTreeMap<String, Throttle>,
) -> Vec<(MethodPattern, Throttle)> {
    let mut sorted: Vec<_> = methods.iter().collect();
    sorted.sort_by_key(|(pattern, _)| {
        let wildcards = pattern.chars().filter(|c| *c == '*' || *c == '?').count();
        (wildcards, std::cmp::Reverse(pattern.len()))
    });
    sorted
        .into_iter()
        .map(|(pattern, throttle)| (pattern.parse().expect("checked when loaded"), *throttle))
        .collect()
}

fn parse_hash(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("must be 64 hex digits (printf %s \"$KEY\" | sha256sum)".to_owned());
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("checked hex digits");
    }
    Ok(hash)
}

/// The hex SHA-256 of a key value, as the usage-plan file stores it.
pub fn hash_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
api_key_required = ["/DemoResourceMusic/DemoResourceMusicItem/*"]

[[plans]]
id = "basic"
throttle = { rate = 10, burst = 2 }
quota = { limit = 100, period = "DAY" }
methods = { "/DemoResourceMusic/DemoResourceMusicItem/GET" = { rate = 1, burst = 1 }, "*/*" = { rate = 100, burst = 100 } }

[[keys]]
id = "alice"
sha256 = "HASH_A"
plan = "basic"

[[keys]]
id = "bob"
sha256 = "HASH_B"
plan = "basic"
enabled = false
"#;

    fn plans() -> UsagePlans {
        let text = FILE
            .replace("HASH_A", &hash_hex("alice-key-0123456789"))
            .replace("HASH_B", &hash_hex("bob-key-0123456789"));
        UsagePlans::parse(&text, false).expect("a valid file")
    }

    #[test]
    fn keys_are_found_by_their_hash() {
        let plans = plans();
        assert!(matches!(plans.find(None), Presented::Missing));
        assert!(matches!(plans.find(Some(b"")), Presented::Missing));
        assert!(matches!(plans.find(Some(b"nope")), Presented::Unknown));
        assert!(
            matches!(plans.find(Some(b"alice-key-0123456789")), Presented::Valid(k, 0) if &*k.id == "alice")
        );
        assert!(
            matches!(plans.find(Some(b"bob-key-0123456789")), Presented::Disabled(k, 1) if &*k.id == "bob")
        );
        let item = "/DemoResourceMusic/DemoResourceMusicItem";
        assert!(plans.requires_key(item, &Method::GET));
        assert!(!plans.requires_key("/DemoResourceMusic/DemoResourceMusicTable", &Method::PUT));
    }

    #[test]
    fn a_plans_method_throttle_is_taken_before_its_own() {
        let plans = plans();
        let Presented::Valid(key, _) = plans.find(Some(b"alice-key-0123456789")) else {
            panic!("alice is valid");
        };
        let item = "/DemoResourceMusic/DemoResourceMusicItem";
        assert!(key.throttle(item, &Method::GET).is_ok());
        assert!(key.throttle(item, &Method::GET).is_err(), "GET: burst 1");
        assert!(
            key.throttle(item, &Method::PUT).is_ok(),
            "the plan's burst of 2: one left"
        );
    }

    #[test]
    fn json_files_say_the_same() {
        let text = format!(
            r#"{{"api_key_required": ["*/*"], "plans": [{{"id": "p"}}], "keys": [{{"id": "k", "sha256": "{}", "plan": "p"}}]}}"#,
            hash_hex("k-value")
        );
        let plans = UsagePlans::parse(&text, true).expect("valid JSON");
        assert!(matches!(plans.find(Some(b"k-value")), Presented::Valid(..)));
    }

    #[test]
    fn mistakes_name_their_place() {
        let cases = [
            (
                r#"[[keys]]
id = "k"
sha256 = "abc"
plan = "p""#,
                "keys[0] (\"k\"): sha256",
            ),
            (
                r#"[[plans]]
id = "p"
[[keys]]
id = "k"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
plan = "q""#,
                "keys[0] (\"k\"): plan",
            ),
            (r#"api_key_required = ["GET"]"#, "api_key_required"),
            (
                r#"[[plans]]
id = "p"
quota = { limit = 1, period = "YEAR" }"#,
                "YEAR",
            ),
            (r#"surprise = 1"#, "surprise"),
        ];
        for (text, expected) in cases {
            let error = UsagePlans::parse(text, false).expect_err(text);
            assert!(error.contains(expected), "{error}");
        }
    }
}
