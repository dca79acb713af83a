//! `google.api.http` path templates: the parser of their grammar and the
//! matcher of request paths against them.
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! Matching works on the raw (still percent-encoded) segments of a path, so
//! that an encoded `/` (`AC%2FDC`) never splits a segment; each variable's
//! value is then decoded: completely for a one-segment variable, and for a
//! multi-segment one (`{name=**}`) except `%2F`, which stays encoded, as the
//! rule's documentation and grpc-gateway and Envoy have it. Literals compare
//! raw, as written in the proto.

use std::fmt;

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Matches exactly this (raw) text.
    Literal(String),
    /// `*`: any one segment.
    Single,
    /// `**`: zero or more segments; only as the last segment.
    Rest,
}

/// A `{field.path=…}` variable: the field it binds and the segments it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// The field path, as written (`song.artist`), split at the dots.
    pub field_path: Vec<String>,
    /// First segment index.
    start: usize,
    /// One past the last segment index.
    end: usize,
}

impl Variable {
    /// The field path as written: `song.artist`.
    pub fn dotted(&self) -> String {
        self.field_path.join(".")
    }
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
    variables: Vec<Variable>,
    verb: Option<String>,
    text: String,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path template {template:?}: {problem}")]
pub struct TemplateError {
    template: String,
    problem: String,
}

/// Why a request path cannot be matched at all (before any template is tried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("The path has an empty segment; remove the doubled or trailing '/'.")]
    EmptySegment,
    #[error("The path has a '.' or '..' segment; send the path without dot segments.")]
    DotSegment,
    #[error("The path has a malformed percent-encoding (a '%' not followed by two hex digits).")]
    BadPercentEncoding,
}

/// Why a matched variable has no usable value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The path segment for '{field}' is not valid UTF-8 once percent-decoded.")]
pub struct NotUtf8 {
    pub field: String,
}

/// A request path split into raw segments, checked once for every template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPath<'p> {
    segments: Vec<&'p str>,
}

impl<'p> RawPath<'p> {
    /// Splits `path` (which starts with `/`) into raw segments, refusing empty
    /// and dot segments (also when their dots are percent-encoded) and
    /// malformed percent-encodings: such a path is ambiguous, and proxies in
    /// front of the gateway would not agree on what it names.
    pub fn parse(path: &'p str) -> Result<Self, PathError> {
        let rest = path.strip_prefix('/').unwrap_or(path);
        let bytes = rest.as_bytes();
        // One pass over the bytes, checking each segment as it ends: `split`
        // and a second scan per segment were twice the instructions, on
        // every `/v1` request.
        let mut segments = Vec::with_capacity(SEGMENTS_USUALLY);
        let (mut start, mut at) = (0, 0);
        loop {
            match bytes.get(at) {
                None | Some(b'/') => {
                    let segment = &rest[start..at];
                    if segment.is_empty() {
                        return Err(PathError::EmptySegment);
                    }
                    if is_dot_segment(segment) {
                        return Err(PathError::DotSegment);
                    }
                    segments.push(segment);
                    if at == bytes.len() {
                        return Ok(Self { segments });
                    }
                    at += 1;
                    start = at;
                }
                Some(b'%') => {
                    let hex = |b: Option<&u8>| b.is_some_and(u8::is_ascii_hexdigit);
                    if !(hex(bytes.get(at + 1)) && hex(bytes.get(at + 2))) {
                        return Err(PathError::BadPercentEncoding);
                    }
                    at += 3;
                }
                Some(_) => at += 1,
            }
        }
    }
}

/// Room for the segments of every route music.proto has (a song's path has
/// seven), so that parsing one allocates once.
const SEGMENTS_USUALLY: usize = 8;

/// `.` or `..`, each dot written as itself or as `%2e`/`%2E`. Read in place:
/// every `/v1` request's path is checked segment by segment (again when the
/// edge names it), and two `str::replace` per segment were an eighth of the
/// gateway's instructions for a `/v1` GetItem (callgrind, BENCHMARKS.md).
fn is_dot_segment(segment: &str) -> bool {
    let mut rest = segment.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        rest = match rest {
            [b'.', after @ ..] => after,
            [b'%', b'2', e, after @ ..] if e.eq_ignore_ascii_case(&b'e') => after,
            _ => return false,
        };
        dots += 1;
        if dots > 2 {
            return false;
        }
    }
    dots > 0
}

impl Template {
    /// Parses a template such as `/v1/tables/{table_name}/songs:batchGet`.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let fail = |problem: &str| TemplateError {
            template: text.to_owned(),
            problem: problem.to_owned(),
        };
        let body = text
            .strip_prefix('/')
            .ok_or_else(|| fail("it must start with '/'"))?;
        // The verb: a ':' outside any variable, after the last top-level '/'.
        let mut depth = 0usize;
        let mut verb_at = None;
        for (i, ch) in body.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth = depth.checked_sub(1).ok_or_else(|| fail("unbalanced '}'"))?,
                '/' if depth == 0 => verb_at = None,
                ':' if depth == 0 => verb_at = Some(i),
                _ => {}
            }
        }
        if depth != 0 {
            return Err(fail("unbalanced '{'"));
        }
        let (path, verb) = match verb_at {
            Some(at) => {
                let verb = &body[at + 1..];
                if verb.is_empty() {
                    return Err(fail("empty verb after ':'"));
                }
                (&body[..at], Some(verb.to_owned()))
            }
            None => (body, None),
        };

        let mut segments = Vec::new();
        let mut variables: Vec<Variable> = Vec::new();
        let mut rest = path;
        loop {
            if let Some(inner) = rest.strip_prefix('{') {
                let close = inner.find('}').ok_or_else(|| fail("unbalanced '{'"))?;
                let spec = &inner[..close];
                if spec.contains('{') {
                    return Err(fail("variables cannot nest"));
                }
                let (field, pattern) = spec.split_once('=').unwrap_or((spec, "*"));
                let field_path: Vec<String> = field.split('.').map(str::to_owned).collect();
                if field_path.iter().any(|part| !is_ident(part)) {
                    return Err(fail(&format!("{field:?} is not a field path")));
                }
                if variables.iter().any(|v| v.field_path == field_path) {
                    return Err(fail(&format!("{field} is bound twice")));
                }
                let start = segments.len();
                for part in pattern.split('/') {
                    segments.push(parse_segment(part).map_err(|p| fail(&p))?);
                }
                variables.push(Variable {
                    field_path,
                    start,
                    end: segments.len(),
                });
                rest = &inner[close + 1..];
            } else {
                let end = rest.find('/').unwrap_or(rest.len());
                let part = &rest[..end];
                if part.contains('{') || part.contains('}') {
                    return Err(fail("a variable must be a whole segment"));
                }
                segments.push(parse_segment(part).map_err(|p| fail(&p))?);
                rest = &rest[end..];
            }
            match rest.strip_prefix('/') {
                Some(next) => rest = next,
                None if rest.is_empty() => break,
                None => return Err(fail("a variable must be a whole segment")),
            }
        }
        if let Some(at) = segments.iter().position(|s| *s == Segment::Rest)
            && at + 1 != segments.len()
        {
            return Err(fail("'**' must be the last segment"));
        }
        Ok(Self {
            segments,
            variables,
            verb,
            text: text.to_owned(),
        })
    }

    /// The template as written in the proto: the route's label in logs and metrics.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    pub fn verb(&self) -> Option<&str> {
        self.verb.as_deref()
    }

    /// How specific the template is, to order templates that match the same
    /// path: more literal segments first, then a verb, then fewer `**`.
    pub fn specificity(&self) -> (usize, bool, bool) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        let rest = self.segments.last() == Some(&Segment::Rest);
        (literals, self.verb.is_some(), !rest)
    }

    /// The template with every variable written `{name}` (the OpenAPI form),
    /// names chosen by `name`, and its shape: the same text with every
    /// variable as `{}`, which tells templates that match the same paths.
    pub fn openapi_path(&self, name: impl Fn(usize, &Variable) -> String) -> String {
        let mut out = String::new();
        let mut index = 0;
        while index < self.segments.len() {
            out.push('/');
            match self.variables.iter().position(|v| v.start == index) {
                Some(n) => {
                    let variable = &self.variables[n];
                    out.push('{');
                    out.push_str(&name(n, variable));
                    out.push('}');
                    index = variable.end;
                }
                None => {
                    match &self.segments[index] {
                        Segment::Literal(text) => out.push_str(text),
                        Segment::Single => out.push('*'),
                        Segment::Rest => out.push_str("**"),
                    }
                    index += 1;
                }
            }
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }

    /// Whether the variable spans more than one segment (or `**`), so its
    /// value may hold `/`.
    pub fn is_multi_segment(&self, variable: &Variable) -> bool {
        variable.end - variable.start != 1 || self.segments[variable.start] != Segment::Single
    }

    /// A regular expression for a multi-segment variable's value
    /// (`shelves/[^/]+/books/.*`), for the OpenAPI document.
    pub fn value_pattern(&self, variable: &Variable) -> String {
        let parts: Vec<String> = self.segments[variable.start..variable.end]
            .iter()
            .map(|segment| match segment {
                Segment::Literal(text) => text
                    .chars()
                    .map(|c| {
                        if "\\^$.*+?()[]{}|".contains(c) {
                            format!("\\{c}")
                        } else {
                            c.to_string()
                        }
                    })
                    .collect(),
                Segment::Single => "[^/]+".to_owned(),
                Segment::Rest => ".*".to_owned(),
            })
            .collect();
        format!("^{}$", parts.join("/"))
    }

    /// Whether a path fits this template, without decoding its variables
    /// (what naming a request needs).
    pub fn fits(&self, path: &RawPath<'_>) -> bool {
        self.fit(path).is_some()
    }

    /// Matches a path; on success, each variable's decoded value, in the
    /// order of [`Template::variables`].
    pub fn matches(&self, path: &RawPath<'_>) -> Option<Result<Vec<String>, NotUtf8>> {
        let fit = self.fit(path)?;
        let rest = self.ends_with_rest();
        Some(
            self.variables
                .iter()
                .map(|variable| {
                    let end = if variable.end == self.segments.len() && rest {
                        fit.segments.len()
                    } else {
                        variable.end
                    };
                    let start = variable.start.min(end);
                    let bytes = if self.is_multi_segment(variable) {
                        let parts: Vec<&str> = (start..end).map(|i| fit.segment(i)).collect();
                        decode_keeping_slashes(&parts.join("/"))
                    } else {
                        // Sized for the encoded text, which is the most
                        // the decoded can be: collected, the vector started
                        // at a third of that and grew, for every variable.
                        let segment = fit.segment(start);
                        let mut bytes = Vec::with_capacity(segment.len());
                        bytes.extend(percent_encoding::percent_decode_str(segment));
                        bytes
                    };
                    String::from_utf8(bytes).map_err(|_| NotUtf8 {
                        field: variable.dotted(),
                    })
                })
                .collect(),
        )
    }

    fn ends_with_rest(&self) -> bool {
        self.segments.last() == Some(&Segment::Rest)
    }

    /// The path read as this template reads it (the verb taken off its last
    /// segment), when its segments and literals fit.
    fn fit<'r, 'p>(&self, path: &'r RawPath<'p>) -> Option<Fit<'r, 'p>> {
        let segments = path.segments.as_slice();
        let mut last = segments.last().copied().unwrap_or_default();
        if let Some(verb) = &self.verb {
            let stem = segments
                .last()?
                .strip_suffix(verb.as_str())?
                .strip_suffix(':')?;
            if stem.is_empty() {
                return None;
            }
            last = stem;
        }
        let rest = self.ends_with_rest();
        let fixed = self.segments.len() - usize::from(rest);
        if segments.len() < fixed || (!rest && segments.len() != fixed) {
            return None;
        }
        let fit = Fit { segments, last };
        for (i, segment) in self.segments.iter().enumerate().take(segments.len()) {
            if let Segment::Literal(text) = segment
                && text != fit.segment(i)
            {
                return None;
            }
        }
        Some(fit)
    }
}

/// A path's segments as a template reads them: the last one without the
/// template's `:verb`.
struct Fit<'r, 'p> {
    segments: &'r [&'p str],
    last: &'p str,
}

impl<'p> Fit<'_, 'p> {
    fn segment(&self, i: usize) -> &'p str {
        if i + 1 == self.segments.len() {
            self.last
        } else {
            self.segments[i]
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_segment(part: &str) -> Result<Segment, String> {
    Ok(match part {
        "" => return Err("empty segment".to_owned()),
        "*" => Segment::Single,
        "**" => Segment::Rest,
        literal if literal.contains(['*', '{', '}', '=']) => {
            return Err(format!("{literal:?} is not a literal segment"));
        }
        literal => Segment::Literal(literal.to_owned()),
    })
}

fn is_ident(part: &str) -> bool {
    let mut chars = part.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Percent-decodes all but `%2F`, which a multi-segment variable keeps
/// encoded so that it stays told apart from a real `/`.
fn decode_keeping_slashes(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for (n, piece) in text.split("%2F").enumerate() {
        if n > 0 {
            out.extend_from_slice(b"%2F");
        }
        for (m, piece) in piece.split("%2f").enumerate() {
            if m > 0 {
                out.extend_from_slice(b"%2f");
            }
            out.extend(percent_encoding::percent_decode_str(piece));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(template: &str, path: &str) -> Option<Vec<String>> {
        let template = Template::parse(template).expect("the template parses");
        let path = RawPath::parse(path).expect("the path is well formed");
        template.matches(&path).map(|v| v.expect("UTF-8"))
    }

    #[test]
    fn single_segment_variables_bind_decoded_values() {
        assert_eq!(
            values("/v1/tables/{table_name}", "/v1/tables/Music"),
            Some(vec!["Music".to_owned()])
        );
        assert_eq!(
            values(
                "/v1/tables/{table_name}/artists/{artist}/songs/{song_title}",
                "/v1/tables/Music/artists/AC%2FDC/songs/Back%20in%20Black"
            ),
            Some(vec!["Music".into(), "AC/DC".into(), "Back in Black".into()])
        );
        assert_eq!(
            values("/v1/a/{x}", "/v1/a/Sigur%20R%C3%B3s"),
            Some(vec!["Sigur Rós".into()])
        );
    }

    #[test]
    fn nested_field_paths_are_split_at_dots() {
        let template = Template::parse(
            "/v1/tables/{table_name}/artists/{song.artist}/songs/{song.song_title}",
        )
        .unwrap();
        let paths: Vec<_> = template
            .variables()
            .iter()
            .map(|v| v.field_path.clone())
            .collect();
        assert_eq!(
            paths,
            [
                vec!["table_name".to_owned()],
                vec!["song".into(), "artist".into()],
                vec!["song".into(), "song_title".into()],
            ]
        );
        assert_eq!(template.variables()[1].dotted(), "song.artist");
    }

    #[test]
    fn double_wildcards_take_the_rest_and_keep_encoded_slashes() {
        let template = "/v1/{name=shelves/*/books/**}";
        assert_eq!(
            values(template, "/v1/shelves/s1/books/a/b%2Fc/d%20e"),
            Some(vec!["shelves/s1/books/a/b%2Fc/d e".into()])
        );
        // `**` matches zero segments too.
        assert_eq!(
            values("/v1/files/{path=**}", "/v1/files"),
            Some(vec![String::new()])
        );
        assert_eq!(values(template, "/v1/shelves/s1/cds/x"), None);
        assert_eq!(values("/v1/{name=**}", "/v1/a/b"), Some(vec!["a/b".into()]));
    }

    #[test]
    fn custom_verbs_are_split_from_the_last_segment() {
        let stream = "/v1/tables/{table_name}/artists/{artist}/songs:stream";
        assert_eq!(
            values(stream, "/v1/tables/T/artists/A/songs:stream"),
            Some(vec!["T".into(), "A".into()])
        );
        assert_eq!(values(stream, "/v1/tables/T/artists/A/songs"), None);
        assert_eq!(values(stream, "/v1/tables/T/artists/A/songs:list"), None);
        // A template without a verb sees the whole segment.
        let list = "/v1/tables/{table_name}/artists/{artist}/songs";
        assert_eq!(values(list, "/v1/tables/T/artists/A/songs:stream"), None);
        assert_eq!(
            values("/v1/tables/{table_name}", "/v1/tables/a:b"),
            Some(vec!["a:b".into()])
        );
        // A verb after a variable.
        assert_eq!(
            values("/v1/{name}:undelete", "/v1/x%3Ay:undelete"),
            Some(vec!["x:y".into()])
        );
    }

    #[test]
    fn literals_and_segment_counts_must_agree() {
        let template = "/v1/tables/{table_name}";
        assert_eq!(values(template, "/v1/tables"), None);
        assert_eq!(values(template, "/v1/tables/a/b"), None);
        assert_eq!(values(template, "/v2/tables/a"), None);
        assert_eq!(values(template, "/v1/Tables/a"), None);
        assert_eq!(values("/v1/tables", "/v1/tables"), Some(vec![]));
        assert_eq!(values("/v1/*/x", "/v1/anything/x"), Some(vec![]));
    }

    #[test]
    fn ambiguous_paths_are_refused_before_matching() {
        for (path, error) in [
            ("/v1/tables//x", PathError::EmptySegment),
            ("/v1/tables/", PathError::EmptySegment),
            ("/v1/tables/../x", PathError::DotSegment),
            ("/v1/tables/./x", PathError::DotSegment),
            ("/v1/tables/%2e%2E/x", PathError::DotSegment),
            ("/v1/tables/%2E", PathError::DotSegment),
            ("/v1/tables/.%2e", PathError::DotSegment),
            ("/v1/tables/%zz", PathError::BadPercentEncoding),
            ("/v1/tables/a%2", PathError::BadPercentEncoding),
        ] {
            assert_eq!(RawPath::parse(path), Err(error), "{path}");
        }
        // Dots inside a segment are data, and so are three of them.
        for data in [
            "/v1/tables/my.table/..x",
            "/v1/tables/...",
            "/v1/tables/%2e%2e%2e",
            "/v1/tables/.%41",
            "/v1/tables/%2e1",
            "/v1/tables/%2f",
        ] {
            assert!(RawPath::parse(data).is_ok(), "{data}");
        }
    }

    #[test]
    fn a_path_fits_where_it_matches() {
        for (template, path, fits) in [
            ("/v1/tables/{table_name}", "/v1/tables/Music", true),
            ("/v1/tables/{table_name}", "/v1/tables", false),
            (
                "/v1/tables/{table_name}/songs:batchGet",
                "/v1/tables/M/songs:batchGet",
                true,
            ),
            (
                "/v1/tables/{table_name}/songs:batchGet",
                "/v1/tables/M/songs:batchPut",
                false,
            ),
            (
                "/v1/tables/{table_name}/songs:batchGet",
                "/v1/tables/M/:batchGet",
                false,
            ),
            (
                "/v1/tables/{table_name}/songs:batchGet",
                "/v1/tables/M/songs",
                false,
            ),
            (
                "/v1/{name=shelves/*/books/**}",
                "/v1/shelves/a/books/b/c",
                true,
            ),
            (
                "/v1/{name=shelves/*/books/**}",
                "/v1/shelves/a/notes/b",
                false,
            ),
            // Naming does not decode: a value that is not UTF-8 still fits.
            ("/v1/a/{x}", "/v1/a/%FF", true),
        ] {
            let (parsed, raw) = (
                Template::parse(template).unwrap(),
                RawPath::parse(path).unwrap(),
            );
            assert_eq!(parsed.fits(&raw), fits, "{template} {path}");
        }
    }

    #[test]
    fn values_that_are_not_utf8_are_refused() {
        let template = Template::parse("/v1/a/{x}").unwrap();
        let path = RawPath::parse("/v1/a/%FF").unwrap();
        assert_eq!(
            template.matches(&path),
            Some(Err(NotUtf8 { field: "x".into() }))
        );
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in [
            "v1/tables",
            "/v1/{a",
            "/v1/a}",
            "/v1/{a{b}}",
            "/v1/{a}/{a}",
            "/v1/{1a}",
            "/v1/{a.}",
            "/v1/**/x",
            "/v1/x{a}",
            "/v1//x",
            "/v1/x:",
            "/v1/{a=}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_openapi_form_names_every_variable() {
        let template = Template::parse("/v1/{name=shelves/*}/books:list").unwrap();
        assert_eq!(
            template.openapi_path(|_, v| v.dotted()),
            "/v1/{name}/books:list"
        );
        assert_eq!(
            template.openapi_path(|_, _| String::new()),
            "/v1/{}/books:list"
        );
    }

    #[test]
    fn multi_segment_values_have_a_pattern() {
        let template = Template::parse("/v1/{name=shelves/*/books/**}").unwrap();
        assert_eq!(
            template.value_pattern(&template.variables()[0]),
            "^shelves/[^/]+/books/.*$"
        );
    }

    #[test]
    fn specific_templates_sort_first() {
        let literal = Template::parse("/v1/tables/{t}/songs:batchGet").unwrap();
        let variable = Template::parse("/v1/tables/{t}/{x}").unwrap();
        assert!(literal.specificity() > variable.specificity());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::{RawPath, Template};

        proptest! {
            /// Any text, percent-encoded as a client encodes one segment,
            /// binds back to exactly that text.
            #[test]
            fn any_encoded_segment_decodes_to_its_text(text in "\\PC{1,40}") {
                prop_assume!(text != "." && text != "..");
                let encoded = percent_encoding::utf8_percent_encode(
                    &text,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string();
                let template = Template::parse("/v1/tables/{table_name}/artists/{artist}").unwrap();
                let path = format!("/v1/tables/T/artists/{encoded}");
                let raw = RawPath::parse(&path).unwrap();
                let values = template.matches(&raw).expect("it matches").expect("UTF-8");
                prop_assert_eq!(values, vec!["T".to_owned(), text]);
            }

            /// The matcher never panics, whatever the path.
            #[test]
            fn matching_never_panics(path in "(/[a-z%0-9:.]{0,6}){0,6}") {
                let template = Template::parse("/v1/{name=a/**}:v").unwrap();
                if let Ok(raw) = RawPath::parse(&path) {
                    let _ = template.matches(&raw);
                }
            }
        }
    }
}
