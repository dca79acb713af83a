//! The tutorial's route table under `/{stage}`: which path and method is which
//! call, and the 404 and 405 answers for everything else.

use http::Method;

/// One of the tutorial's six calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    CreateTable,
    DeleteTable,
    PutItem,
    UpdateItem,
    GetItem,
    DeleteItem,
}

/// The tutorial's two resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Table,
    Item,
}

impl Resource {
    pub const ALL: [Resource; 2] = [Resource::Table, Resource::Item];

    pub fn path(self) -> &'static str {
        match self {
            Self::Table => "/DemoResourceMusic/DemoResourceMusicTable",
            Self::Item => "/DemoResourceMusic/DemoResourceMusicItem",
        }
    }

    /// The methods the resource answers, as an `Allow` header lists them.
    pub fn allow(self) -> &'static str {
        match self {
            Self::Table => "PUT, DELETE",
            Self::Item => "GET, PUT, POST, DELETE",
        }
    }

    fn call(self, method: &Method) -> Option<Call> {
        Some(match (self, method.as_str()) {
            (Self::Table, "PUT") => Call::CreateTable,
            (Self::Table, "DELETE") => Call::DeleteTable,
            (Self::Item, "PUT") => Call::PutItem,
            (Self::Item, "POST") => Call::UpdateItem,
            (Self::Item, "GET") => Call::GetItem,
            (Self::Item, "DELETE") => Call::DeleteItem,
            _ => return None,
        })
    }
}

/// Why a request matched no call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrouted {
    /// No resource at this path: 404.
    NotFound,
    /// The resource exists but not with this method: 405.
    MethodNotAllowed(Resource),
}

/// The route table of one stage.
#[derive(Debug, Clone)]
pub struct RouteTable {
    /// `/Test`, or empty for no stage prefix.
    prefix: String,
}

impl RouteTable {
    pub fn new(stage: &str) -> Self {
        let stage = stage.trim_matches('/');
        Self {
            prefix: if stage.is_empty() {
                String::new()
            } else {
                format!("/{stage}")
            },
        }
    }

    /// Matches a request path exactly (no decoding, no trailing slash, no
    /// `..` resolution: only the documented paths are routes).
    pub fn route(&self, method: &Method, path: &str) -> Result<Call, Unrouted> {
        let resource = path
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| Resource::ALL.into_iter().find(|r| r.path() == rest))
            .ok_or(Unrouted::NotFound)?;
        resource
            .call(method)
            .ok_or(Unrouted::MethodNotAllowed(resource))
    }

    /// The resource template a request path names (API Gateway's
    /// `resourcePath`), for logs and metric labels; `None` when it names none.
    pub fn resource_path(&self, path: &str) -> Option<&'static str> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        Resource::ALL
            .into_iter()
            .map(Resource::path)
            .find(|p| *p == rest)
    }

    /// The full path of a resource under this stage.
    pub fn path_of(&self, resource: Resource) -> String {
        format!("{}{}", self.prefix, resource.path())
    }

    /// What exists, for the 404 message.
    pub fn describe(&self) -> String {
        Resource::ALL
            .into_iter()
            .map(|r| format!("{} {}", r.allow(), self.path_of(r)))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_six_calls_route_under_the_stage() {
        let table = RouteTable::new("Test");
        let t = "/Test/DemoResourceMusic/DemoResourceMusicTable";
        let i = "/Test/DemoResourceMusic/DemoResourceMusicItem";
        assert_eq!(table.route(&Method::PUT, t), Ok(Call::CreateTable));
        assert_eq!(table.route(&Method::DELETE, t), Ok(Call::DeleteTable));
        assert_eq!(table.route(&Method::PUT, i), Ok(Call::PutItem));
        assert_eq!(table.route(&Method::POST, i), Ok(Call::UpdateItem));
        assert_eq!(table.route(&Method::GET, i), Ok(Call::GetItem));
        assert_eq!(table.route(&Method::DELETE, i), Ok(Call::DeleteItem));
    }

    #[test]
    fn other_paths_and_methods_are_refused() {
        let table = RouteTable::new("Test");
        let t = "/Test/DemoResourceMusic/DemoResourceMusicTable";
        assert_eq!(
            table.route(&Method::GET, t),
            Err(Unrouted::MethodNotAllowed(Resource::Table))
        );
        assert_eq!(
            table.route(
                &Method::PATCH,
                "/Test/DemoResourceMusic/DemoResourceMusicItem"
            ),
            Err(Unrouted::MethodNotAllowed(Resource::Item))
        );
        for path in [
            "/",
            "/Test",
            "/DemoResourceMusic/DemoResourceMusicTable",
            "/Test/DemoResourceMusic/DemoResourceMusicTable/",
            "/Test//DemoResourceMusic/DemoResourceMusicTable",
            "/Test/DemoResourceMusic%2FDemoResourceMusicTable",
            "/Test/DemoResourceMusic/../DemoResourceMusic/DemoResourceMusicTable",
            "/test/DemoResourceMusic/DemoResourceMusicTable",
        ] {
            assert_eq!(
                table.route(&Method::PUT, path),
                Err(Unrouted::NotFound),
                "{path}"
            );
        }
    }

    #[test]
    fn an_empty_stage_means_no_prefix() {
        let table = RouteTable::new("");
        assert_eq!(
            table.route(&Method::PUT, "/DemoResourceMusic/DemoResourceMusicTable"),
            Ok(Call::CreateTable)
        );
        assert_eq!(
            table.describe(),
            "PUT, DELETE /DemoResourceMusic/DemoResourceMusicTable; GET, PUT, POST, DELETE /DemoResourceMusic/DemoResourceMusicItem"
        );
    }

    mod properties {
        use http::Method;
        use proptest::prelude::*;

        use super::super::{Resource, RouteTable, Unrouted};

        /// Paths near the routes (prefix, case, slash and escape tricks) and anything else.
        fn path() -> impl Strategy<Value = String> {
            let near = (
                prop::sample::select(vec!["", "/Test", "/test", "/Prod", "//Test", "/Test/"]),
                prop::sample::select(vec![
                    "/DemoResourceMusic/DemoResourceMusicTable",
                    "/DemoResourceMusic/DemoResourceMusicItem",
                    "/DemoResourceMusic%2FDemoResourceMusicItem",
                    "/DemoResourceMusic/../DemoResourceMusic/DemoResourceMusicItem",
                    "/demoresourcemusic/demoresourcemusicitem",
                ]),
                prop::sample::select(vec!["", "/", "?", "%20", "/x"]),
            )
                .prop_map(|(stage, resource, tail)| format!("{stage}{resource}{tail}"));
            prop_oneof![near, any::<String>()]
        }

        fn method() -> impl Strategy<Value = Method> {
            prop_oneof![
                prop::sample::select(vec![
                    Method::GET,
                    Method::PUT,
                    Method::POST,
                    Method::DELETE,
                    Method::PATCH,
                    Method::HEAD,
                    Method::OPTIONS,
                    Method::TRACE,
                    Method::CONNECT,
                ]),
                "[A-Za-z]{1,12}".prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
            ]
        }

        proptest! {
            /// Only the exact documented paths are routes, and a route's
            /// resource also names it for logs and metrics.
            #[test]
            fn only_the_exact_paths_under_the_stage_route(
                stage in prop::sample::select(vec!["Test", "", "/Prod/", "a/b"]),
                method in method(),
                path in path(),
            ) {
                let table = RouteTable::new(stage);
                let named = Resource::ALL.into_iter().find(|r| table.path_of(*r) == path);
                match table.route(&method, &path) {
                    Ok(_) => {
                        let resource = named.expect("a routed path is a resource's");
                        prop_assert!(resource.allow().split(", ").any(|m| m == method.as_str()));
                    }
                    Err(Unrouted::MethodNotAllowed(resource)) => {
                        prop_assert_eq!(Some(resource), named);
                        prop_assert!(!resource.allow().split(", ").any(|m| m == method.as_str()));
                    }
                    Err(Unrouted::NotFound) => prop_assert_eq!(named, None),
                }
                prop_assert_eq!(table.resource_path(&path), named.map(Resource::path));
            }
        }
    }
}
