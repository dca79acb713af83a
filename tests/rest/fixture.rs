//! A newly annotated RPC is served by `/v1` and described in
//! `/openapi.json` with no gateway code: the fixture
//! `fixtures/health_http.proto` annotates gRPC's health service (which
//! music-service serves) with `google.api.http`; compiled here with protox
//! into a descriptor set and given to the gateway with
//! `--proto-descriptors`, its routes answer from the real service.

use std::path::{Path, PathBuf};

use crate::{
    openapi::printed_document,
    support::{Mode, Stack, ok, status},
};

/// The fixture compiled (with its imports, and extension options kept)
/// into `dir`; the descriptor set's path.
fn compile_fixture(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut compiler =
        protox::Compiler::new([root.join("tests/rest/fixtures"), root.join("proto")])
            .expect("the include paths exist");
    compiler
        .include_imports(true)
        .include_source_info(true)
        .open_file(root.join("tests/rest/fixtures/health_http.proto"))
        .unwrap_or_else(|e| panic!("the fixture compiles: {e:?}"));
    let path = dir.join("health_http.bin");
    std::fs::write(&path, compiler.encode_file_descriptor_set()).expect("write the set");
    path
}

async fn serves_the_fixture(mode: Mode) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let set = compile_fixture(dir.path());
    let set = set.to_str().expect("a UTF-8 path");
    let stack = Stack::start(mode, &["--proto-descriptors", set]).await;

    assert_eq!(
        ok(&stack.curl("GET", "/v1/health").send().await),
        serde_json::json!({"status": "SERVING"})
    );
    // The additional binding, with a path variable.
    assert_eq!(
        ok(&stack
            .curl("GET", "/v1/health/music.v1.ItemService")
            .send()
            .await),
        serde_json::json!({"status": "SERVING"})
    );
    assert_eq!(
        ok(&stack
            .curl(
                "GET",
                "/v1/health?service=music.v1.TableService&format=FORMAT_BRIEF"
            )
            .send()
            .await),
        serde_json::json!({"status": "SERVING"})
    );
    // The service's answer for a service it does not know: NOT_FOUND.
    status(
        &stack.curl("GET", "/v1/health/nothing").send().await,
        404,
        5,
    );
    // A bad enum in a query parameter, and a body where the rule takes none.
    let bad = stack.curl("GET", "/v1/health?format=LOUD").send().await;
    let bad = status(&bad, 400, 3);
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("not a value of Format"),
        "{bad}"
    );
    status(
        &stack.curl("GET", "/v1/health").data("{}").send().await,
        400,
        3,
    );
    // The music.v1 routes are still there.
    ok(&stack.curl("GET", "/v1/tables").send().await);

    // Described: served, and printed by `music-gateway openapi`.
    let served = ok(&stack.curl("GET", "/openapi.json").send().await);
    for document in [
        served,
        printed_document(&["--proto-descriptors", set, "openapi"]),
    ] {
        let check = &document["paths"]["/v1/health"]["get"];
        assert_eq!(check["operationId"], "Health_Check", "{document}");
        assert_eq!(
            check["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/grpc.health.v1.HealthCheckResponse"
        );
        let query: Vec<&str> = check["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(query, ["service", "format"]);
        assert_eq!(
            document["paths"]["/v1/health/{service}"]["get"]["operationId"],
            "Health_Check2"
        );
        assert_eq!(
            document["components"]["schemas"]["grpc.health.v1.HealthCheckResponse.ServingStatus"]["enum"]
                [1],
            "SERVING"
        );
        assert!(document["paths"]["/v1/tables"]["get"].is_object());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newly_annotated_rpc_is_served_and_described_with_the_service_in_process() {
    serves_the_fixture(Mode::InProcess).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newly_annotated_rpc_is_served_and_described_behind_a_pure_gateway() {
    serves_the_fixture(Mode::Pure).await;
}
