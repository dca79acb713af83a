//! Readiness follows the store, for a two-process stack: while the store
//! answers, the service's admin `/readyz` is 200, its gRPC health SERVING and
//! the gateway's `/readyz` 200; when the store goes away all three turn (503,
//! NOT_SERVING, 503) within a few probe intervals, and back when it returns.
//! Once with the store proxy closing every connection, once with a DynamoDB
//! Local process really stopped and started again on the same port.

use std::time::Duration;

use music_service::embedded::EmbeddedStore;
use tonic_health::pb::health_check_response::ServingStatus;

use music_testkit::{
    Program,
    dynamodb_local::{DynamoDbLocal, free_port, jar_dir},
    eventually,
    grpc::health,
    http_status,
    store_proxy::StoreProxy,
};

const PROBE_INTERVAL_MS: &str = "200";
/// "A few probe intervals", with room for a loaded machine.
const FLIP_WITHIN: Duration = Duration::from_secs(3);

/// What a load balancer and a mesh see of the stack.
#[derive(Debug, PartialEq)]
struct Seen {
    service_readyz: u16,
    service_health: Result<ServingStatus, String>,
    item_service_health: Result<ServingStatus, String>,
    gateway_readyz: u16,
}

impl Seen {
    async fn now(service: &Program, gateway: &Program) -> Self {
        let grpc = service.addr("grpc");
        Self {
            service_readyz: http_status(&format!("{}/readyz", service.url("admin"))).await,
            service_health: health(grpc, "").await,
            item_service_health: health(grpc, "music.v1.ItemService").await,
            gateway_readyz: http_status(&format!("{}/readyz", gateway.url("http"))).await,
        }
    }

    fn ready() -> Self {
        Self {
            service_readyz: 200,
            service_health: Ok(ServingStatus::Serving),
            item_service_health: Ok(ServingStatus::Serving),
            gateway_readyz: 200,
        }
    }

    fn not_ready() -> Self {
        Self {
            service_readyz: 503,
            service_health: Ok(ServingStatus::NotServing),
            item_service_health: Ok(ServingStatus::NotServing),
            gateway_readyz: 503,
        }
    }
}

/// Waits until the stack shows `wanted`; how long that took.
async fn turns(
    service: &Program,
    gateway: &Program,
    wanted: Seen,
    within: Duration,
    when: &str,
) -> Duration {
    let wanted = &wanted;
    let took = eventually(within, Duration::from_millis(50), || async move {
        Seen::now(service, gateway).await == *wanted
    })
    .await;
    match took {
        Some(took) => {
            eprintln!("{when}: {wanted:?} after {took:?}");
            took
        }
        None => panic!(
            "{when}: expected {wanted:?} within {within:?}, saw {:?}\nservice log:\n{}",
            Seen::now(service, gateway).await,
            service.log_text()
        ),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_flips_when_the_store_drops_connections_and_back_when_it_serves() {
    let store = EmbeddedStore::start(None).await.expect("embedded store");
    let proxy = StoreProxy::start(&store.endpoint()).await;
    let service = Program::service_on(
        &proxy.url(),
        &["--health-probe-interval-ms", PROBE_INTERVAL_MS],
    )
    .await;
    let gateway = Program::gateway(&service.url("grpc"), &[], &[]).await;

    turns(&service, &gateway, Seen::ready(), FLIP_WITHIN, "store up").await;
    proxy.set_refusing(true);
    turns(
        &service,
        &gateway,
        Seen::not_ready(),
        FLIP_WITHIN,
        "proxy refusing",
    )
    .await;
    proxy.set_refusing(false);
    turns(
        &service,
        &gateway,
        Seen::ready(),
        FLIP_WITHIN,
        "proxy serving again",
    )
    .await;
    eprintln!(
        "store proxy: {} requests forwarded, {} connections closed",
        proxy.forwarded(),
        proxy.closed()
    );
    assert!(
        proxy.closed() > 0,
        "the service's probes met closed connections"
    );
    let log = service.log_text();
    assert!(
        log.contains("store unreachable") && log.contains("store reachable again"),
        "the flips are logged:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_flips_when_dynamodb_local_is_stopped_and_back_when_it_is_started_again() {
    let Some(dir) = jar_dir("the DynamoDB Local stop/start readiness test") else {
        return;
    };
    let port = free_port();
    let local = DynamoDbLocal::start_in_memory(&dir, port).await;
    let endpoint = local.endpoint();
    let service = Program::service_on(
        &endpoint,
        &["--health-probe-interval-ms", PROBE_INTERVAL_MS],
    )
    .await;
    let gateway = Program::gateway(&service.url("grpc"), &[], &[]).await;

    turns(
        &service,
        &gateway,
        Seen::ready(),
        FLIP_WITHIN,
        "DynamoDB Local up",
    )
    .await;
    local.kill().await;
    turns(
        &service,
        &gateway,
        Seen::not_ready(),
        FLIP_WITHIN,
        "DynamoDB Local stopped",
    )
    .await;
    let _local = DynamoDbLocal::start_in_memory(&dir, port).await;
    turns(
        &service,
        &gateway,
        Seen::ready(),
        FLIP_WITHIN,
        "DynamoDB Local started again",
    )
    .await;
}
