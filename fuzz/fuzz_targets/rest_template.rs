//! The `/v1` path templates and matcher: any template text parses or is
//! refused, and any request path is refused, matched or not, never a panic.
//! music.proto's own templates are matched against every path too; a match
//! binds one value per variable.
//!
//! Input: `template\npath` (the path is the rest, newlines and all).

#![no_main]

use libfuzzer_sys::fuzz_target;
use music_fuzz::gateway::template::{RawPath, Template};

const MUSIC: [&str; 6] = [
    "/v1/tables",
    "/v1/tables/{table_name}",
    "/v1/tables/{table_name}/artists/{artist}/songs",
    "/v1/tables/{table_name}/artists/{artist}/songs:stream",
    "/v1/tables/{table_name}/artists/{song.artist}/songs/{song.song_title}",
    "/v1/tables/{table_name}/songs:batchGet",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (template, path) = text.split_once('\n').unwrap_or((&text, "/v1/tables"));
    let fuzzed = Template::parse(template).ok();
    let Ok(raw) = RawPath::parse(path) else {
        return;
    };
    if let Some(fuzzed) = &fuzzed {
        let _ = fuzzed.openapi_path(|_, v| v.dotted());
        for variable in fuzzed.variables() {
            let _ = fuzzed.value_pattern(variable);
        }
        if let Some(Ok(values)) = fuzzed.matches(&raw) {
            assert_eq!(values.len(), fuzzed.variables().len(), "{template:?} {path:?}");
        }
    }
    for music in MUSIC {
        let template = Template::parse(music).expect("music.proto's templates parse");
        if let Some(Ok(values)) = template.matches(&raw) {
            assert_eq!(values.len(), template.variables().len(), "{music} {path:?}");
        }
    }
});
