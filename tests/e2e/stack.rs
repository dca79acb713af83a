//! The stacks the end-to-end tests run, on each store the environment
//! offers: music-service and music-gateway as two processes (as deployed),
//! started with testkit's [`Program`]; and curl command lines as users paste
//! them.

use music_testkit::{Answer, Curl, Program, env::dynamodb_endpoint};

/// Where the stack keeps its songs.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    Embedded,
    DynamoDbLocal(String),
}

impl Store {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::DynamoDbLocal(_) => "dynamodb-local",
        }
    }

    fn service_args(&self) -> Vec<&str> {
        match self {
            Self::Embedded => vec!["--in-memory"],
            Self::DynamoDbLocal(endpoint) => {
                vec!["--backend", "dynamodb", "--dynamodb-endpoint", endpoint]
            }
        }
    }
}

/// Embedded always; DynamoDB Local when MUSIC_TEST_DYNAMODB_ENDPOINT is set
/// (required under CI=true).
pub(crate) fn stores() -> Vec<Store> {
    let mut stores = vec![Store::Embedded];
    stores.extend(dynamodb_endpoint().map(Store::DynamoDbLocal));
    stores
}

/// music-service and music-gateway as two processes, as deployed.
pub(crate) struct TwoProcessStack {
    pub(crate) service: Program,
    pub(crate) gateway: Program,
}

impl TwoProcessStack {
    pub(crate) async fn start(store: &Store, gateway_args: &[&str]) -> Self {
        let service = Program::service(&store.service_args()).await;
        let upstream = service.url("grpc");
        let gateway = Program::gateway(&upstream, gateway_args, &[]).await;
        Self { service, gateway }
    }

    pub(crate) fn base_url(&self) -> String {
        self.gateway.url("http")
    }
}

/// Runs a curl command line as a user pastes it; curl must succeed.
pub(crate) async fn curl(command_line: &str) -> Answer {
    Curl::command_line(command_line).send().await
}
