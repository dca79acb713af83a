//! Route matching: any method, stage and path is a call, a 405 for one of the
//! two resources, or a 404, never a panic; only the exact documented paths
//! under the stage are routes.
//!
//! Input: `METHOD\nstage\npath` (the path is the rest, newlines and all).

#![no_main]

use http::Method;
use libfuzzer_sys::fuzz_target;
use music_fuzz::gateway::routes::{Resource, RouteTable, Unrouted};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let (method, stage, path) = (
        parts.next().unwrap_or_default(),
        String::from_utf8_lossy(parts.next().unwrap_or_default()),
        String::from_utf8_lossy(parts.next().unwrap_or_default()),
    );
    // Only what hyper hands over: a method that is a token.
    let Ok(method) = Method::from_bytes(method) else {
        return;
    };
    let table = RouteTable::new(&stage);
    let named = Resource::ALL
        .into_iter()
        .find(|resource| table.path_of(*resource) == path);
    let allows = |resource: Resource| resource.allow().split(", ").any(|m| m == method.as_str());
    match table.route(&method, &path) {
        Ok(_) => assert!(named.is_some_and(allows), "{method} {stage:?} {path:?}"),
        Err(Unrouted::MethodNotAllowed(resource)) => {
            assert_eq!(Some(resource), named, "{method} {stage:?} {path:?}");
            assert!(!allows(resource), "{method} {stage:?} {path:?}");
        }
        Err(Unrouted::NotFound) => assert_eq!(named, None, "{method} {stage:?} {path:?}"),
    }
    assert_eq!(table.resource_path(&path), named.map(Resource::path));
    assert!(!table.describe().is_empty());
});
