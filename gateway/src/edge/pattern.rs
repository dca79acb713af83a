//! IAM's wildcard patterns (`*`: any run of characters, `/` and `:` included;
//! `?`: any one character), compiled once when a policy or a usage-plan file
//! is loaded, with the common shapes (`*`, exact, `prefix*`, and any pattern
//! of literals between `*`s, found with `str::find`) matched without the
//! general matcher. Matching allocates nothing.

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    shape: Shape,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Any,
    Exact,
    /// `text` without its one trailing `*`.
    Prefix(usize),
    /// Literals between `*`s (no `?`): the first must start the subject,
    /// the last end it, the others be found in order between them.
    Stars(Vec<String>),
    Glob,
}

impl Pattern {
    pub fn new(text: &str) -> Self {
        let wild = |c: char| c == '*' || c == '?';
        let shape = if text == "*" {
            Shape::Any
        } else if !text.contains(wild) {
            Shape::Exact
        } else if text.ends_with('*') && !text[..text.len() - 1].contains(wild) {
            Shape::Prefix(text.len() - 1)
        } else if !text.contains('?') {
            Shape::Stars(text.split('*').map(str::to_owned).collect())
        } else {
            Shape::Glob
        };
        Self {
            text: text.to_owned(),
            shape,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, subject: &str) -> bool {
        match self.shape {
            Shape::Any => true,
            Shape::Exact => self.text == subject,
            Shape::Prefix(n) => subject.as_bytes().starts_with(&self.text.as_bytes()[..n]),
            Shape::Stars(ref parts) => stars(parts, subject),
            Shape::Glob => glob(self.text.as_bytes(), subject.as_bytes()),
        }
    }

    /// As [`Pattern::matches`], ignoring ASCII case (IAM's action names).
    pub fn matches_ignoring_case(&self, subject: &str) -> bool {
        Pattern::new(&self.text.to_ascii_lowercase()).matches(&subject.to_ascii_lowercase())
    }
}

/// A pattern of literals between `*`s: leftmost matches of the middle
/// literals are as good as any (each `*` takes what is between them).
fn stars(parts: &[String], subject: &str) -> bool {
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return subject.is_empty();
    };
    if subject.len() < first.len() + last.len()
        || !subject.starts_with(first.as_str())
        || !subject.ends_with(last.as_str())
    {
        return false;
    }
    let mut rest = &subject.as_bytes()[first.len()..subject.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match find(rest, middle.as_bytes()) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The first place of `needle` in `haystack`. Subjects are short (an ARN),
/// where this beats `str::find`, whose searcher is set up anew each call.
/// (UTF-8 is self-synchronising: a byte match of valid UTF-8 is a character match.)
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (Some(&head), Some(&tail)) = (needle.first(), needle.last()) else {
        return Some(0);
    };
    let n = needle.len();
    let last = haystack.len().checked_sub(n)?;
    (0..=last).find(|&at| {
        haystack[at] == head && haystack[at + n - 1] == tail && &haystack[at..at + n] == needle
    })
}

/// The length of the UTF-8 character that starts with `first`.
fn char_len(first: u8) -> usize {
    match first {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

/// Wildcard matching with one backtrack point (the last `*`): linear for the
/// patterns policies use, never worse than pattern × subject.
fn glob(pattern: &[u8], subject: &[u8]) -> bool {
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < subject.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, s));
                p += 1;
            }
            Some(b'?') => {
                p += 1;
                s += char_len(subject[s]);
            }
            Some(&c) if c == subject[s] => {
                p += 1;
                s += 1;
            }
            _ => match star {
                // Let the last `*` take one more character and try again.
                Some((star_p, star_s)) => {
                    let next = star_s + char_len(subject[star_s]);
                    star = Some((star_p, next));
                    p = star_p + 1;
                    s = next;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn wildcards_match_as_iam_matches_them() {
        let cases = [
            ("*", "anything/at:all", true),
            ("*", "", true),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("ab*", "abcd", true),
            ("ab*", "a", false),
            ("*/GET/*", "arn:x/Test/GET/a/b", true),
            ("*/GET/*", "arn:x/Test/PUT/a/b", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "aéc", true),
            ("*a*b", "xxaxxb", true),
            ("*a*b", "xxaxxbc", false),
            ("a**", "a", true),
            ("", "", true),
            ("", "a", false),
        ];
        for (pattern, subject, expected) in cases {
            assert_eq!(
                Pattern::new(pattern).matches(subject),
                expected,
                "{pattern} ~ {subject}"
            );
        }
        assert!(Pattern::new("execute-api:inv*").matches_ignoring_case("execute-api:Invoke"));
    }

    /// A slow, obviously right matcher: recursion over the pattern.
    fn reference(pattern: &[char], subject: &[char]) -> bool {
        match pattern.split_first() {
            None => subject.is_empty(),
            Some(('*', rest)) => (0..=subject.len()).any(|i| reference(rest, &subject[i..])),
            Some(('?', rest)) => !subject.is_empty() && reference(rest, &subject[1..]),
            Some((c, rest)) => subject.first() == Some(c) && reference(rest, &subject[1..]),
        }
    }

    proptest! {
        #[test]
        fn the_star_matcher_agrees_with_a_reference(
            pattern in "[ab*é/]{0,8}",
            subject in "[abé/]{0,10}",
        ) {
            let p: Vec<char> = pattern.chars().collect();
            let s: Vec<char> = subject.chars().collect();
            prop_assert_eq!(Pattern::new(&pattern).matches(&subject), reference(&p, &s));
        }

        #[test]
        fn the_matcher_agrees_with_a_reference(
            pattern in "[ab*?é/]{0,8}",
            subject in "[abé/]{0,10}",
        ) {
            let p: Vec<char> = pattern.chars().collect();
            let s: Vec<char> = subject.chars().collect();
            prop_assert_eq!(Pattern::new(&pattern).matches(&subject), reference(&p, &s));
        }
    }
}
