//! The real curl, as the tutorial's users drive the gateway: one builder for
//! every way the suites call it (arguments, headers of any bytes, bodies from
//! stdin, a pasted command line), always bounded in time, and the answer read
//! from `-i` output into an [`Answer`]; or, for tests about curl's own view
//! (TLS failures, `-w` write-outs), its exit code and output as they are.
//!
//! Owns: [`Curl`], [`CurlRun`], [`shell_words`], the shortcuts [`curl`],
//! [`try_curl`] and [`http_status`].

use std::{
    ffi::OsString,
    os::unix::ffi::OsStringExt,
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::{io::AsyncWriteExt, process::Command};

use crate::answer::Answer;

/// Longest a curl call may take, unless set: the test fails instead of hanging.
const MAX_TIME: Duration = Duration::from_secs(30);

/// What curl did: its exit code, what it printed, and how long it took.
#[derive(Debug)]
pub struct CurlRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// One curl invocation being put together.
#[derive(Debug, Clone)]
pub struct Curl {
    args: Vec<OsString>,
    url: Option<String>,
    stdin: Option<Vec<u8>>,
    max_time: Duration,
    head: bool,
    tolerate_exit_code: bool,
}

impl Default for Curl {
    fn default() -> Self {
        Self::new()
    }
}

impl Curl {
    /// curl with no arguments yet.
    pub fn new() -> Self {
        Self {
            args: Vec::new(),
            url: None,
            stdin: None,
            max_time: MAX_TIME,
            head: true,
            tolerate_exit_code: false,
        }
    }

    /// `-X method url`.
    pub fn request(method: &str, url: impl Into<String>) -> Self {
        let mut curl = Self::new().args(["-X", method]);
        curl.url = Some(url.into());
        curl
    }

    /// A curl command line as a user pastes it (`curl -X PUT URL -H 'a: b'`),
    /// split into words as sh does for such lines: blanks separate words,
    /// single quotes group (and are removed).
    pub fn command_line(line: &str) -> Self {
        let mut words = shell_words(line).into_iter();
        assert_eq!(words.next().as_deref(), Some("curl"), "{line}");
        Self::new().args(words)
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// `-H header`, e.g. `"table: Music"` or `"artist;"` (an empty value).
    pub fn header(self, header: impl AsRef<str>) -> Self {
        self.raw_header(header.as_ref().as_bytes())
    }

    /// `-H` with arbitrary bytes, e.g. a value that is not UTF-8.
    pub fn raw_header(self, header: &[u8]) -> Self {
        self.arg("-H").arg(OsString::from_vec(header.to_vec()))
    }

    /// A request body, as `-d` sends it (curl strips CR and LF).
    pub fn data(self, body: &str) -> Self {
        self.arg("-d").arg(body)
    }

    /// A request body fed through curl's stdin (`--data-binary @-`), for
    /// bodies too large for a command-line argument.
    pub fn body_from_stdin(mut self, body: Vec<u8>) -> Self {
        self.stdin = Some(body);
        self.args(["--data-binary", "@-"])
    }

    /// Appends a query string (already encoded) to the URL.
    pub fn query(mut self, query: &str) -> Self {
        let url = self.url.as_mut().expect("a URL to add a query to");
        url.push('?');
        url.push_str(query);
        self
    }

    /// The bound of the whole call (`--max-time`).
    pub fn max_time(mut self, max_time: Duration) -> Self {
        self.max_time = max_time;
        self
    }

    /// Accept an answer even when curl then exits with an error: it may stop
    /// sending a body that the server refused before reading it (413), and
    /// the answer is what the test looks at.
    pub fn tolerate_exit_code(mut self) -> Self {
        self.tolerate_exit_code = true;
        self
    }

    /// Runs curl as it is, without `-i`: stdout is what curl prints of the
    /// body and of `-w`.
    pub async fn run(mut self) -> CurlRun {
        self.head = false;
        let started = Instant::now();
        let output = self.output().await;
        CurlRun {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            took: started.elapsed(),
        }
    }

    /// The answer; panics when curl failed (see [`Curl::tolerate_exit_code`])
    /// or printed no HTTP answer.
    pub async fn send(self) -> Answer {
        let described = self.describe();
        let tolerate = self.tolerate_exit_code;
        let output = self.output().await;
        let answer = Answer::parse(&output.stdout);
        assert!(
            output.status.success() || (tolerate && answer.is_some()),
            "curl {described} failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        answer.unwrap_or_else(|| {
            panic!(
                "curl {described} printed no HTTP answer: {:?}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// The answer, or curl's failure (its exit status and message) for
    /// answers that may not come.
    pub async fn try_send(self) -> Result<Answer, String> {
        let output = self.output().await;
        if !output.status.success() {
            return Err(format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Answer::parse(&output.stdout).ok_or_else(|| {
            format!(
                "no HTTP answer in {:?}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    async fn output(self) -> std::process::Output {
        let mut command = Command::new("curl");
        // -sS: no progress meter, but errors; the proxy settings of the
        // machine must not take loopback traffic elsewhere.
        command
            .args(["-s", "-S", "--noproxy", "*", "--max-time"])
            .arg(format!("{:.3}", self.max_time.as_secs_f64()));
        if self.head {
            command.arg("-i");
        }
        command
            .args(&self.args)
            .args(self.url.as_ref())
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("curl runs (it must be installed)");
        if let Some(body) = self.stdin {
            let mut pipe = child.stdin.take().expect("curl's stdin");
            // curl may stop reading once the server has answered (413).
            let _ = pipe.write_all(&body).await;
            drop(pipe);
        }
        child.wait_with_output().await.expect("curl finishes")
    }

    fn describe(&self) -> String {
        self.args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .chain(self.url.clone())
            .map(|text| match text.char_indices().nth(200) {
                Some((cut, _)) => format!("{}…", &text[..cut]),
                None => text,
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs the real curl with `args` (plus `-s -S -i` and a time bound); panics
/// when it fails.
pub async fn curl(args: &[&str]) -> Answer {
    Curl::new().args(args).send().await
}

/// [`curl`], for answers that may not come (curl's failure as the error).
pub async fn try_curl(args: &[&str]) -> Result<Answer, String> {
    Curl::new().args(args).try_send().await
}

/// `GET url` with curl; the status, or 0 when nothing answered.
pub async fn http_status(url: &str) -> u16 {
    let run = Curl::new()
        .args(["-o", "/dev/null", "-w", "%{http_code}", url])
        .max_time(Duration::from_secs(3))
        .run()
        .await;
    run.stdout.trim().parse().unwrap_or(0)
}

/// Splits a command line into words as sh does for the tutorial's commands:
/// blanks separate words, single quotes group (and are removed).
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            ' ' | '\t' if !quoted => words.extend(word.take()),
            _ => word.get_or_insert_with(String::new).push(ch),
        }
    }
    assert!(!quoted, "unbalanced quote in {line}");
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_keeps_quoted_blanks() {
        assert_eq!(
            shell_words(
                "curl -X GET http://h/x -H 'table:Music' -H 'albumtitle: Louder Than Ever'"
            ),
            [
                "curl",
                "-X",
                "GET",
                "http://h/x",
                "-H",
                "table:Music",
                "-H",
                "albumtitle: Louder Than Ever"
            ]
        );
    }
}
