//! An HTTP answer as the tests look at it: status, headers (names
//! lower-cased, in order) and body, read from what `curl -i` prints or from
//! the raw bytes of an HTTP/1.x answer (interim `1xx` answers skipped), and
//! the checks every suite makes of it.
//!
//! Owns: [`Answer`]. Hand-written: `httparse` would read the head, but the
//! bytes here are curl's output, possibly several heads in a row (`100
//! Continue`), with the body as text; the whole reader is a dozen lines.

/// One answer: status, headers (lower-cased names, in order), body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// Reads `curl -i` output or a raw HTTP/1.x answer, skipping interim
    /// `1xx` answers such as `100 Continue`; `None` without a complete head.
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let mut rest = raw;
        loop {
            let end = rest.windows(4).position(|w| w == b"\r\n\r\n")?;
            let head = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = &rest[end + 4..];
            let mut lines = head.split("\r\n");
            let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
            if (100..200).contains(&status) {
                continue;
            }
            let headers = lines
                .filter_map(|line| line.split_once(':'))
                .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
                .collect();
            return Some(Self {
                status,
                headers,
                body: String::from_utf8_lossy(rest).into_owned(),
            });
        }
    }

    /// The one value of a header (panics when it is repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        let values = self.header_values(name);
        assert!(
            values.len() < 2,
            "header {name} sent more than once: {:?}",
            self.headers
        );
        values.first().copied()
    }

    /// Every value of a header, in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Exact status and body, and a JSON content type.
    #[track_caller]
    pub fn assert_json(&self, status: u16, body: &str) {
        self.assert_json_for("the request", status, body);
    }

    /// As `assert_json`, saying which request failed.
    #[track_caller]
    pub fn assert_json_for(&self, what: &str, status: u16, body: &str) {
        assert_eq!(
            (self.status, self.body.as_str()),
            (status, body),
            "{what}: {self:?}"
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{what}: {self:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curls_answer_is_read_into_status_headers_and_body() {
        let answer = Answer::parse(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nX-Request-Id: abc\r\n\r\n\"Item not found\"",
        )
        .expect("an answer");
        assert_eq!(answer.status, 404);
        assert_eq!(answer.header("x-request-id"), Some("abc"));
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(answer.body, "\"Item not found\"");
    }

    #[test]
    fn interim_answers_are_skipped() {
        let answer = Answer::parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n\r\n\"x\"").expect("an answer");
        assert_eq!(answer.status, 413);
        assert_eq!(answer.header("Content-Type"), Some("application/json"));
        assert_eq!(answer.body, "\"x\"");
    }

    #[test]
    fn no_head_is_no_answer() {
        assert_eq!(Answer::parse(b"HTTP/1.1 200 OK\r\nContent-"), None);
        assert_eq!(Answer::parse(b""), None);
    }
}
