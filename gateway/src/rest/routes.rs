//! The `/v1` route set, built at start from the `google.api.http` rules in
//! the descriptor pool (every annotated method of every service, each
//! `additional_bindings` entry a route of its own), and the lookup of a
//! request's route: the most specific template that matches, 404 when none
//! does, 405 with the methods that would when only the method is wrong.

use std::sync::Arc;

use http::Method;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    Value,
};

use super::template::{NotUtf8, RawPath, Template, TemplateError};

/// The extension that carries a method's HTTP rule.
const HTTP_RULE: &str = "google.api.http";

/// Where a route's request message comes from besides the path.
#[derive(Debug, Clone)]
pub enum BodyRule {
    /// No body: every field not bound by the path comes from the query.
    None,
    /// `body: "*"`: every field not bound by the path comes from the body.
    All,
    /// `body: "field"`: that field from the body, the rest from the query.
    Field(FieldDescriptor),
}

/// One HTTP binding of one RPC.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub template: Template,
    /// The template as written: the route's name in logs and metrics.
    pub label: Arc<str>,
    pub rpc: MethodDescriptor,
    /// `/package.Service/Method`.
    pub grpc_path: http::uri::PathAndQuery,
    /// For each template variable, the fields of its path (`song`, `artist`).
    pub bindings: Vec<Vec<FieldDescriptor>>,
    pub body: BodyRule,
    /// `response_body`: the response field answered instead of the whole message.
    pub response_body: Option<FieldDescriptor>,
}

impl Route {
    pub fn is_streaming(&self) -> bool {
        self.rpc.is_server_streaming()
    }
}

/// Why the routes could not be built: a rule that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("{rpc}: {source}")]
    Template { rpc: String, source: TemplateError },
    #[error("{rpc}: {problem}")]
    Rule { rpc: String, problem: String },
    #[error("{first} and {second} both bind {method} {template}")]
    Duplicate {
        first: String,
        second: String,
        method: Method,
        template: String,
    },
}

/// Why a request found no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrouted {
    NotFound,
    /// The path has routes, with these methods (an `Allow` value).
    MethodNotAllowed(String),
}

/// Every route, most specific first.
#[derive(Debug, Clone)]
pub struct RouteSet {
    routes: Vec<Route>,
}

/// A route a request matched, with its variables' decoded values (or the
/// variable whose value is not text).
#[derive(Debug)]
pub struct Matched<'r> {
    pub route: &'r Route,
    pub values: Result<Vec<String>, NotUtf8>,
}

impl RouteSet {
    /// Reads every annotated method of every service in `pool`.
    pub fn from_pool(pool: &DescriptorPool) -> Result<Self, RouteError> {
        let mut routes: Vec<Route> = Vec::new();
        let Some(extension) = pool.get_extension_by_name(HTTP_RULE) else {
            return Ok(Self { routes });
        };
        for service in pool.services() {
            for rpc in service.methods() {
                let options = rpc.options();
                if !options.has_extension(&extension) {
                    continue;
                }
                let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
                    continue;
                };
                if rpc.is_client_streaming() {
                    tracing::warn!(
                        rpc = rpc.full_name(),
                        "client-streaming RPCs are not served over REST; skipped"
                    );
                    continue;
                }
                let mut rules = vec![rule.clone()];
                if let Some(Value::List(more)) =
                    rule.get_field_by_name("additional_bindings").as_deref()
                {
                    rules.extend(more.iter().filter_map(|v| v.as_message().cloned()));
                }
                for rule in &rules {
                    let route = route(&rpc, rule)?;
                    if let Some(first) = routes
                        .iter()
                        .find(|r| r.method == route.method && r.template == route.template)
                    {
                        return Err(RouteError::Duplicate {
                            first: first.rpc.full_name().to_owned(),
                            second: rpc.full_name().to_owned(),
                            method: route.method,
                            template: route.template.text().to_owned(),
                        });
                    }
                    routes.push(route);
                }
            }
        }
        // Stable: among equally specific templates, the proto's order decides.
        routes.sort_by_key(|r| std::cmp::Reverse(r.template.specificity()));
        Ok(Self { routes })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }

    /// The template that names a request (its route's, or for a wrong
    /// method the template of the path), for logs, metrics and the edge's
    /// per-method settings; `None` when no route has the path.
    pub fn name(&self, method: &Method, path: &str) -> Option<Arc<str>> {
        let raw = RawPath::parse(path).ok()?;
        let mut by_path = None;
        for route in &self.routes {
            if route.template.fits(&raw) {
                if route.method == *method {
                    return Some(route.label.clone());
                }
                by_path.get_or_insert_with(|| route.label.clone());
            }
        }
        by_path
    }

    /// The route of a request, or why there is none.
    pub fn find<'r>(
        &'r self,
        method: &Method,
        path: &RawPath<'_>,
    ) -> Result<Matched<'r>, Unrouted> {
        let mut allowed: Vec<&Method> = Vec::new();
        for route in &self.routes {
            // Only the route that serves the request decodes its values:
            // the routes of the same path for other methods come first as
            // often as not, and are only told whether they fit.
            if route.method == *method {
                if let Some(values) = route.template.matches(path) {
                    return Ok(Matched { route, values });
                }
            } else if route.template.fits(path) && !allowed.contains(&&route.method) {
                allowed.push(&route.method);
            }
        }
        if allowed.is_empty() {
            return Err(Unrouted::NotFound);
        }
        allowed.sort_by_key(|m| method_order(m));
        Err(Unrouted::MethodNotAllowed(
            allowed
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ))
    }
}

/// The order methods are listed in `Allow`.
fn method_order(method: &Method) -> (usize, String) {
    let known = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    (
        known
            .iter()
            .position(|m| m == method)
            .unwrap_or(known.len()),
        method.as_str().to_owned(),
    )
}

fn route(rpc: &MethodDescriptor, rule: &DynamicMessage) -> Result<Route, RouteError> {
    let fail = |problem: String| RouteError::Rule {
        rpc: rpc.full_name().to_owned(),
        problem,
    };
    let text = |name: &str| {
        rule.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let (method, path) = ["get", "put", "post", "delete", "patch"]
        .into_iter()
        .find(|name| rule.has_field_by_name(name))
        .map(|name| {
            let method = Method::from_bytes(name.to_ascii_uppercase().as_bytes())
                .expect("the five standard methods parse");
            (method, text(name))
        })
        .or_else(|| {
            let custom = rule.get_field_by_name("custom")?;
            let custom = custom.as_message()?;
            let kind = custom.get_field_by_name("kind")?.as_str()?.to_owned();
            let path = custom.get_field_by_name("path")?.as_str()?.to_owned();
            Some((Method::from_bytes(kind.as_bytes()).ok()?, path))
        })
        .ok_or_else(|| fail("the HTTP rule names no method and path".into()))?;
    let template = Template::parse(&path).map_err(|source| RouteError::Template {
        rpc: rpc.full_name().to_owned(),
        source,
    })?;
    let input = rpc.input();
    let output = rpc.output();

    let mut bindings = Vec::new();
    for variable in template.variables() {
        let fields = field_path(&input, &variable.field_path)
            .map_err(|problem| fail(format!("path variable {}: {problem}", variable.dotted())))?;
        let leaf = fields.last().expect("a field path has a field");
        if leaf.is_list() || leaf.is_map() || matches!(leaf.kind(), Kind::Message(_)) {
            return Err(fail(format!(
                "path variable {} must name a singular scalar field",
                variable.dotted()
            )));
        }
        if template.is_multi_segment(variable) && leaf.kind() != Kind::String {
            return Err(fail(format!(
                "path variable {} spans segments and must be a string",
                variable.dotted()
            )));
        }
        bindings.push(fields);
    }

    let body = match text("body").as_str() {
        "" => BodyRule::None,
        "*" => BodyRule::All,
        name => {
            let field = input
                .get_field_by_name(name)
                .ok_or_else(|| fail(format!("body {name:?} is not a field of {}", input.name())))?;
            if bindings.iter().any(|b| b.len() == 1 && b[0] == field) {
                return Err(fail(format!("body {name:?} is also bound by the path")));
            }
            BodyRule::Field(field)
        }
    };
    let response_body = match text("response_body").as_str() {
        "" => None,
        name => Some(output.get_field_by_name(name).ok_or_else(|| {
            fail(format!(
                "response_body {name:?} is not a field of {}",
                output.name()
            ))
        })?),
    };
    Ok(Route {
        label: Arc::from(template.text()),
        grpc_path: format!("/{}/{}", rpc.parent_service().full_name(), rpc.name())
            .parse()
            .map_err(|e| fail(format!("no gRPC path: {e}")))?,
        method,
        template,
        rpc: rpc.clone(),
        bindings,
        body,
        response_body,
    })
}

/// The fields a dotted path walks, each by its proto name, through singular
/// message fields.
pub fn field_path(
    message: &MessageDescriptor,
    path: &[impl AsRef<str>],
) -> Result<Vec<FieldDescriptor>, String> {
    let mut fields = Vec::with_capacity(path.len());
    let mut current = message.clone();
    for (n, name) in path.iter().enumerate() {
        let name = name.as_ref();
        let field = current
            .get_field_by_name(name)
            .ok_or_else(|| format!("{name:?} is not a field of {}", current.full_name()))?;
        if n + 1 < path.len() {
            match field.kind() {
                Kind::Message(inner) if !field.is_list() && !field.is_map() => current = inner,
                _ => return Err(format!("{name:?} is not a singular message field")),
            }
        }
        fields.push(field);
    }
    Ok(fields)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rest::{fixture_pool, json, transcode::request_message};

    pub(crate) const LIBRARY: &str = r#"
syntax = "proto3";
package fixture.v1;
import "google/api/annotations.proto";

enum Cover {
  COVER_UNSPECIFIED = 0;
  COVER_HARD = 1;
}
message Inner { bool on = 1; int32 n = 2; }
message Filter { repeated string tags = 1; Inner inner = 2; }
message GetBookRequest { string name = 1; Filter filter = 2; repeated int64 ids = 3; Cover cover = 4; bytes token = 5; }
message Book { string name = 1; string etag = 2; string title = 3; }
message UpdateBookRequest { Book book = 1; string title = 2; }
message ListBooksResponse { repeated Book books = 1; string next = 2; }

service Library {
  rpc GetBook(GetBookRequest) returns (Book) {
    option (google.api.http) = {get: "/v1/{name=shelves/*/books/**}"};
  }
  rpc RetitleBook(UpdateBookRequest) returns (Book) {
    option (google.api.http) = {patch: "/v1/{book.name=shelves/*/books/*}:retitle" body: "title"};
  }
  rpc ListBooks(GetBookRequest) returns (ListBooksResponse) {
    option (google.api.http) = {custom: {kind: "LIST" path: "/v1/books"} response_body: "books"};
  }
}
"#;

    fn routes() -> RouteSet {
        RouteSet::from_pool(&fixture_pool(LIBRARY).unwrap()).unwrap()
    }

    fn matched<'r>(routes: &'r RouteSet, method: &str, path: &str) -> (&'r Route, Vec<String>) {
        let raw = RawPath::parse(path).unwrap();
        let matched = routes
            .find(&Method::from_bytes(method.as_bytes()).unwrap(), &raw)
            .unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
        (matched.route, matched.values.unwrap())
    }

    fn transcoded(
        route: &Route,
        values: Vec<String>,
        query: Option<&str>,
        body: &str,
    ) -> serde_json::Value {
        let t = request_message(
            route,
            values,
            query,
            &http::HeaderMap::new(),
            body.as_bytes(),
        )
        .unwrap_or_else(|f| panic!("{}", f.message));
        serde_json::from_slice(&json::render(&t.message)).unwrap()
    }

    #[test]
    fn every_annotated_method_of_every_service_is_a_route() {
        let pool = fixture_pool(LIBRARY).unwrap();
        let routes = RouteSet::from_pool(&pool).unwrap();
        let mut labels: Vec<String> = routes
            .iter()
            .map(|r| format!("{} {}", r.method, r.label))
            .collect();
        labels.sort();
        assert!(labels.contains(&"LIST /v1/books".to_owned()), "{labels:?}");
        assert!(
            labels.contains(&"GET /v1/tables/{table_name}/songs:stream".to_owned()),
            "additional bindings: {labels:?}"
        );
        // Every music.v1 RPC but the gateways' own UsageService (not annotated).
        for rpc in pool
            .services()
            .filter(|s| s.package_name() == "music.v1")
            .flat_map(|s| s.methods().collect::<Vec<_>>())
        {
            let served = routes.iter().any(|r| r.rpc == rpc);
            assert_eq!(
                served,
                rpc.parent_service().name() != "UsageService",
                "{}",
                rpc.full_name()
            );
        }
    }

    #[test]
    fn double_wildcards_nested_and_repeated_query_parameters_bind() {
        let routes = routes();
        let (route, values) = matched(&routes, "GET", "/v1/shelves/s1/books/a/b%2Fc");
        assert_eq!(route.rpc.name(), "GetBook");
        let message = transcoded(
            route,
            values,
            Some(
                "filter.tags=x&filter.tags=y&filter.inner.on=true&filter.inner.n=-5&ids=1&ids=2&cover=COVER_HARD&token=AAEC",
            ),
            "",
        );
        assert_eq!(
            message,
            serde_json::json!({
                "name": "shelves/s1/books/a/b%2Fc",
                "filter": {"tags": ["x", "y"], "inner": {"on": true, "n": -5}},
                "ids": ["1", "2"],
                "cover": "COVER_HARD",
                "token": "AAEC"
            })
        );
        for (query, says) in [
            ("filter=x", "message, list or map field"),
            ("filter.inner.on=yes", "true or false"),
            (
                "filter.inner.on=true&filter.inner.on=false",
                "more than once",
            ),
            ("cover=COVER_SOFT", "not a value of Cover"),
            ("filter.nothing=1", "has no field 'nothing'"),
            ("ids=x", "not an int64"),
            ("token=!!", "not base64"),
        ] {
            let (route, values) = matched(&routes, "GET", "/v1/shelves/s1/books/x");
            let error = request_message(route, values, Some(query), &http::HeaderMap::new(), b"")
                .unwrap_err();
            assert!(error.message.contains(says), "{query}: {}", error.message);
        }
    }

    #[test]
    fn a_scalar_body_field_and_a_verb_after_a_multi_segment_variable() {
        let routes = routes();
        let (route, values) = matched(&routes, "PATCH", "/v1/shelves/s1/books/b1:retitle");
        assert_eq!(route.rpc.name(), "RetitleBook");
        assert_eq!(
            transcoded(route, values, None, r#""A New Title""#),
            serde_json::json!({"book": {"name": "shelves/s1/books/b1"}, "title": "A New Title"})
        );
        let (route, values) = matched(&routes, "PATCH", "/v1/shelves/s1/books/b1:retitle");
        let error =
            request_message(route, values, None, &http::HeaderMap::new(), b"{}").unwrap_err();
        assert!(error.message.contains("title field"), "{}", error.message);
    }

    #[test]
    fn custom_methods_and_response_bodies() {
        let routes = routes();
        let (route, _) = matched(&routes, "LIST", "/v1/books");
        assert_eq!(
            route.response_body.as_ref().map(|f| f.name()),
            Some("books")
        );
        let raw = RawPath::parse("/v1/books").unwrap();
        assert_eq!(
            routes.find(&Method::GET, &raw).unwrap_err(),
            Unrouted::MethodNotAllowed("LIST".into())
        );
        assert_eq!(
            routes.name(&Method::GET, "/v1/books").as_deref(),
            Some("/v1/books")
        );
        assert_eq!(
            routes.name(&Method::GET, "/v1/tables/Music").as_deref(),
            Some("/v1/tables/{table_name}")
        );
        assert_eq!(routes.name(&Method::GET, "/v1/elsewhere"), None);
    }

    #[test]
    fn rules_that_cannot_be_served_stop_the_build_naming_the_method() {
        let service = |rule: &str, request: &str| {
            format!(
                r#"syntax = "proto3"; package bad.v1; import "google/api/annotations.proto";
                message Req {{ string name = 1; Sub sub = 2; repeated string many = 3; int32 n = 4; }}
                message Sub {{ string a = 1; }}
                service Bad {{ rpc Call({request}) returns (Req) {{ option (google.api.http) = {{ {rule} }}; }} }}"#
            )
        };
        for (rule, says) in [
            (r#"get: "/v1/{sub}""#, "singular scalar field"),
            (r#"get: "/v1/{many}""#, "singular scalar field"),
            (r#"get: "/v1/{missing}""#, "is not a field"),
            (r#"get: "/v1/{n=a/*}""#, "must be a string"),
            (r#"post: "/v1/x" body: "nothing""#, "is not a field"),
            (
                r#"post: "/v1/{name}" body: "name""#,
                "also bound by the path",
            ),
            (r#"get: "/v1/x" response_body: "nothing""#, "response_body"),
            (r#"get: "v1/x""#, "must start with '/'"),
            (r#"get: "/v1/tables""#, "both bind GET /v1/tables"),
        ] {
            let pool = fixture_pool(&service(rule, "Req")).unwrap();
            let error = RouteSet::from_pool(&pool).unwrap_err().to_string();
            assert!(
                error.contains("bad.v1.Bad.Call") && error.contains(says),
                "{rule}: {error}"
            );
        }
    }
}
