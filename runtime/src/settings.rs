//! What both programs' settings share: durations written as humans write them
//! (`29s`, `500ms`, `2m`, by humantime), with a bare number still read in the
//! unit of the flag's older name (`--timeout-ms 29000`), and the defaults of a
//! group of flags taken from the flags themselves, so that each default is
//! written once, in its `#[arg]`.

use std::time::Duration;

use clap::{Args, Command, FromArgMatches};

/// A duration (`10s`, `1500ms`), or a bare number of milliseconds.
pub fn millis(text: &str) -> Result<Duration, String> {
    duration(text, Duration::from_millis)
}

/// A duration (`10s`, `2m`), or a bare number of seconds.
pub fn seconds(text: &str) -> Result<Duration, String> {
    duration(text, Duration::from_secs)
}

fn duration(text: &str, bare: fn(u64) -> Duration) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(number) = text.parse::<u64>() {
        return Ok(bare(number));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}: write a duration such as 500ms, 10s or 2m"))
}

/// A group of flags with every default as its `#[arg]` says (no environment,
/// no command line), for programs and tests that build settings in code.
pub fn defaults<T: Args + FromArgMatches>() -> T {
    let command = T::augment_args(Command::new("defaults").no_binary_name(true))
        .mut_args(|arg| arg.env(None::<&str>));
    let matches = command
        .try_get_matches_from(std::iter::empty::<&str>())
        .expect("every flag of a settings group has a default or is optional");
    T::from_arg_matches(&matches).expect("defaults make valid settings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_with_units_or_in_the_flags_old_unit() {
        assert_eq!(millis("29000"), Ok(Duration::from_secs(29)));
        assert_eq!(millis("29s"), Ok(Duration::from_secs(29)));
        assert_eq!(millis("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(seconds("10"), Ok(Duration::from_secs(10)));
        assert_eq!(seconds("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "fast", "-1", "10 parsecs", "1.5"] {
            assert!(millis(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn defaults_come_from_the_flags_and_ignore_the_environment() {
        let limits: crate::limits::ConnectionLimits = defaults();
        assert_eq!(limits.request_start_timeout, Duration::from_secs(10));
        assert_eq!(limits.max_concurrent_streams, 100);
    }
}
