//! The resource template a request names (API Gateway's `resourcePath`), for
//! the access log, metric labels and the edge's per-method settings: the
//! tutorial's route table, and for `/v1` a namer the REST module hands in (its
//! routes are built from the descriptors at start, so only it knows them).

use std::{borrow::Cow, fmt, sync::Arc};

use http::Method;

use crate::{request::bounded, tutorial::routes::RouteTable};

/// The `/v1` namer: the template of a method and path (`/v1/tables/{table_name}`),
/// `None` for no route. Shared templates (`Arc<str>`) so that naming a
/// request allocates nothing.
pub type Namer = Arc<dyn Fn(&Method, &str) -> Option<Arc<str>> + Send + Sync>;

/// A resource template, or the request's own path when it names none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourcePath<'a> {
    /// One of the tutorial's resources.
    Tutorial(&'static str),
    /// A `/v1` route's template.
    Template(Arc<str>),
    /// No known template: the request path, bounded.
    Raw(Cow<'a, str>),
}

impl ResourcePath<'_> {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Tutorial(path) => path,
            Self::Template(path) => path,
            Self::Raw(path) => path,
        }
    }

    /// Whether it is a known route's template (a bounded set: metric labels).
    pub fn is_template(&self) -> bool {
        !matches!(self, Self::Raw(_))
    }
}

impl fmt::Display for ResourcePath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names the resources of both route families.
#[derive(Clone)]
pub struct ResourceNames {
    routes: RouteTable,
    v1: Option<Namer>,
}

impl fmt::Debug for ResourceNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceNames")
            .field("routes", &self.routes)
            .field("v1", &self.v1.is_some())
            .finish()
    }
}

impl ResourceNames {
    pub fn new(routes: RouteTable) -> Self {
        Self { routes, v1: None }
    }

    /// Names `/v1` requests with the REST module's templates. Without a
    /// namer, a `/v1` request is named by its raw path, bounded (so that the
    /// edge's `RESOURCE/METHOD` patterns, e.g. `/v1/tables/*/GET`, still
    /// apply to it, only with wildcards instead of `{table_name}`).
    pub fn with_v1(mut self, namer: Namer) -> Self {
        self.v1 = Some(namer);
        self
    }

    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// The template `path` names, or the path itself (bounded).
    pub fn name<'p>(&self, method: &Method, path: &'p str) -> ResourcePath<'p> {
        if let Some(resource) = self.routes.resource_path(path) {
            return ResourcePath::Tutorial(resource);
        }
        if let Some(namer) = &self.v1
            && let Some(template) = namer(method, path)
        {
            return ResourcePath::Template(template);
        }
        ResourcePath::Raw(bounded(path))
    }
}
