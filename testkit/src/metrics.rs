//! A scraped `/metrics` page in Prometheus' text format, read into samples
//! that a test sums by name and labels.
//!
//! Owns: [`Metrics`], [`Sample`]. Hand-written: the one maintained reader
//! (`prometheus-parse`) folds a histogram's series into one value and brings
//! regex and chrono along, while the tests sum raw series by label; the
//! reader is forty lines, escapes included.

use std::collections::BTreeMap;

use crate::curl::curl;

/// One sample of Prometheus' text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A scraped `/metrics` page.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub text: String,
    pub samples: Vec<Sample>,
}

impl Metrics {
    /// `GET url` with curl; it must answer 200.
    pub async fn scrape(url: &str) -> Self {
        let answer = curl(&[url]).await;
        assert_eq!(answer.status, 200, "GET {url}: {}", answer.body);
        Self::parse(&answer.body)
    }

    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_sample)
            .collect();
        Self {
            text: text.to_owned(),
            samples,
        }
    }

    /// The sum of the samples named `name` that carry all of `labels`
    /// (`None` when there is none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }

    /// The lines of the page that mention `name`, for a report.
    pub fn excerpt(&self, name: &str) -> String {
        self.text
            .lines()
            .filter(|l| l.contains(name))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.trim().rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y"`, with `\"`, `\\` and `\n` escapes in values.
fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                other => value.push(other),
            }
        };
        labels.insert(key.trim_start_matches(',').trim().to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_is_read_with_labels_and_escapes() {
        let metrics = Metrics::parse(
            "# TYPE music_grpc_requests_total counter\n\
             music_grpc_requests_total{method=\"PutItem\",code=\"OK\"} 7\n\
             music_grpc_requests_total{method=\"GetItem\",code=\"NOT_FOUND\"} 3\n\
             odd{a=\"x,\\\"y\\\"\",b=\"z\"} 1.5\n\
             music_grpc_requests_in_flight 0\n",
        );
        assert_eq!(
            metrics.sum(
                "music_grpc_requests_total",
                &[("method", "PutItem"), ("code", "OK")]
            ),
            Some(7.0)
        );
        assert_eq!(metrics.sum("music_grpc_requests_total", &[]), Some(10.0));
        assert_eq!(
            metrics.sum("odd", &[("a", "x,\"y\""), ("b", "z")]),
            Some(1.5)
        );
        assert_eq!(metrics.sum("music_grpc_requests_in_flight", &[]), Some(0.0));
        assert_eq!(metrics.sum("absent", &[]), None);
    }
}
