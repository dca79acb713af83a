//! Throttling: token buckets (governor's GCRA: `burst` requests at once, then
//! `rate` a second), for the stage (API Gateway's account default: 10,000/s,
//! burst 5,000), for methods (`RESOURCE/METHOD` overrides), and for each API
//! key's plan. A refused request learns when a token comes back (`Retry-After`).

use std::{num::NonZeroU32, str::FromStr, time::Duration};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter, clock::Clock};
use http::Method;
use serde::Deserialize;

use super::pattern::Pattern;

/// A rate (requests a second, fractions allowed) and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    pub rate: f64,
    pub burst: u32,
}

impl Throttle {
    pub fn check(&self) -> Result<(), String> {
        if !self.rate.is_finite() || self.rate < 0.0 {
            return Err(format!(
                "rate {} is not a number of requests a second",
                self.rate
            ));
        }
        Ok(())
    }
}

/// One token bucket.
#[derive(Debug)]
pub struct Limiter {
    bucket: Option<DefaultDirectRateLimiter>,
}

impl Limiter {
    /// A bucket of `burst` tokens refilled at `rate` a second; a rate or
    /// burst of 0 refuses everything (as API Gateway's 0 limits do).
    pub fn new(throttle: Throttle) -> Self {
        let period = (throttle.rate > 0.0)
            .then(|| Duration::from_secs_f64((1.0 / throttle.rate).min(1e9)))
            .and_then(Quota::with_period);
        let bucket = match (period, NonZeroU32::new(throttle.burst)) {
            (Some(quota), Some(burst)) => Some(RateLimiter::direct(quota.allow_burst(burst))),
            _ => None,
        };
        Self { bucket }
    }

    /// Takes a token, or says how long until one is there.
    pub fn check(&self) -> Result<(), Duration> {
        let Some(bucket) = &self.bucket else {
            return Err(Duration::from_secs(1));
        };
        bucket
            .check()
            .map_err(|not_until| not_until.wait_time_from(bucket.clock().now()))
    }
}

/// A `RESOURCE/METHOD` pattern of API Gateway's method settings
/// (`/DemoResourceMusic/DemoResourceMusicItem/GET`, `*/*`), split at its
/// last `/` so that a request is matched without joining its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodPattern {
    text: String,
    resource: Pattern,
    method: Pattern,
}

impl MethodPattern {
    pub fn matches(&self, resource: &str, method: &Method) -> bool {
        self.method.matches(method.as_str()) && self.resource.matches(resource)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for MethodPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (resource, method) = text
            .rsplit_once('/')
            .filter(|(resource, method)| !resource.is_empty() && !method.is_empty())
            .ok_or_else(|| {
                format!(
                    "{text:?} is not RESOURCE/METHOD (e.g. /DemoResourceMusic/DemoResourceMusicItem/GET, or */*)"
                )
            })?;
        if resource != "*" && !resource.starts_with('/') {
            return Err(format!(
                "{text:?}: the resource path starts with '/' (or is *)"
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            resource: Pattern::new(resource),
            method: Pattern::new(&method.to_ascii_uppercase()),
        })
    }
}

/// `--method-throttle RESOURCE/METHOD=RATE:BURST`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodThrottle {
    pub pattern: MethodPattern,
    pub throttle: Throttle,
}

impl FromStr for MethodThrottle {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (pattern, limits) = text
            .rsplit_once('=')
            .ok_or_else(|| format!("{text:?} is not RESOURCE/METHOD=RATE:BURST"))?;
        let (rate, burst) = limits.split_once(':').unwrap_or((limits, limits));
        let throttle = Throttle {
            rate: rate
                .trim()
                .parse()
                .map_err(|_| format!("{text:?}: {rate:?} is not a rate"))?,
            burst: burst
                .trim()
                .parse()
                .map_err(|_| format!("{text:?}: {burst:?} is not a burst"))?,
        };
        throttle.check()?;
        Ok(Self {
            pattern: pattern.trim().parse()?,
            throttle,
        })
    }
}

/// Buckets for methods: the first pattern that matches a request is its bucket.
#[derive(Debug, Default)]
pub struct MethodLimiters(Vec<(MethodPattern, Limiter)>);

impl MethodLimiters {
    pub fn new(overrides: impl IntoIterator<Item = (MethodPattern, Throttle)>) -> Self {
        Self(
            overrides
                .into_iter()
                .map(|(pattern, throttle)| (pattern, Limiter::new(throttle)))
                .collect(),
        )
    }

    pub fn check(&self, resource: &str, method: &Method) -> Result<(), Duration> {
        match self.0.iter().find(|(p, _)| p.matches(resource, method)) {
            Some((_, limiter)) => limiter.check(),
            None => Ok(()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The stage's throttle: its own bucket, shared by every request, and the
/// methods' buckets, each taken in addition by the requests it matches.
#[derive(Debug)]
pub struct StageThrottle {
    stage: Limiter,
    methods: MethodLimiters,
}

impl StageThrottle {
    pub fn new(stage: Throttle, methods: &[MethodThrottle]) -> Self {
        Self {
            stage: Limiter::new(stage),
            methods: MethodLimiters::new(methods.iter().map(|m| (m.pattern.clone(), m.throttle))),
        }
    }

    /// Takes a token from the request's method bucket, if one matches, and
    /// from the stage's. The request's resource is asked for only when the
    /// stage has method buckets: naming a request is a route lookup, and
    /// most stages set none.
    pub fn check<'r>(
        &self,
        resource: impl FnOnce() -> &'r str,
        method: &Method,
    ) -> Result<(), Duration> {
        if !self.methods.is_empty() {
            self.methods.check(resource(), method)?;
        }
        self.stage.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_serves_its_burst_then_refuses_with_a_delay() {
        let limiter = Limiter::new(Throttle {
            rate: 1.0,
            burst: 3,
        });
        for _ in 0..3 {
            assert_eq!(limiter.check(), Ok(()));
        }
        let wait = limiter.check().expect_err("the burst is spent");
        assert!(
            wait > Duration::from_millis(500) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        let closed = Limiter::new(Throttle {
            rate: 0.0,
            burst: 5,
        });
        assert!(closed.check().is_err());
    }

    #[test]
    fn method_patterns_split_at_the_last_slash() {
        let pattern: MethodPattern = "/DemoResourceMusic/DemoResourceMusicItem/get"
            .parse()
            .unwrap();
        assert!(pattern.matches("/DemoResourceMusic/DemoResourceMusicItem", &Method::GET));
        assert!(!pattern.matches("/DemoResourceMusic/DemoResourceMusicItem", &Method::PUT));
        let all: MethodPattern = "*/*".parse().unwrap();
        assert!(all.matches("/v1/tables/{table_name}", &Method::DELETE));
        for bad in ["GET", "/x/", "x/GET"] {
            assert!(bad.parse::<MethodPattern>().is_err(), "{bad}");
        }
        let method: MethodThrottle = "/v1/tables/GET=5:10".parse().unwrap();
        assert_eq!(
            method.throttle,
            Throttle {
                rate: 5.0,
                burst: 10
            }
        );
        assert!("/v1/tables/GET=x:1".parse::<MethodThrottle>().is_err());
    }
}
