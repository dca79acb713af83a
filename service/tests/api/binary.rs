//! The `music-service` binary as users meet it: started as a process, called
//! with the real grpcurl through reflection (no proto files), stopped by SIGTERM.

use std::time::Duration;

use music_testkit::{Program, grpcurl};

use crate::helpers::unique_table;

/// A throwaway service: in-memory store, free ports.
async fn start() -> Program {
    spawn(&["--in-memory"]).await
}

/// A service keeping its data under `data_dir`.
async fn start_with_data_dir(data_dir: &str) -> Program {
    spawn(&["--data-dir", data_dir]).await
}

/// This package's `music-service` binary, gRPC and admin on any port.
async fn spawn(args: &[&str]) -> Program {
    Program::builder("music-service")
        .at(env!("CARGO_BIN_EXE_music-service"))
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(args)
        .listening(2)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// SIGTERM, and the exit status within 10 s.
async fn terminate(service: &mut Program) -> std::process::ExitStatus {
    service.terminate();
    service
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("music-service exits within 10 s of SIGTERM")
}

/// grpcurl's success, stdout and stderr.
fn run_grpcurl(grpcurl: &str, args: &[&str]) -> (bool, String, String) {
    let run = grpcurl::run(grpcurl, args);
    (run.ok, run.stdout, run.stderr)
}

#[tokio::test]
async fn grpcurl_lists_the_services_through_reflection() {
    let Some(grpcurl) = grpcurl::find() else {
        return;
    };
    let service = start().await;
    let addr = service.addr("grpc").to_string();
    let (ok, out, err) = run_grpcurl(&grpcurl, &["-plaintext", &addr, "list"]);
    assert!(ok, "grpcurl list failed: {err}");
    for name in [
        "music.v1.TableService",
        "music.v1.ItemService",
        "grpc.health.v1.Health",
    ] {
        assert!(out.lines().any(|l| l.trim() == name), "{name} in:\n{out}");
    }
    let (ok, out, err) = run_grpcurl(
        &grpcurl,
        &["-plaintext", &addr, "describe", "music.v1.ItemService"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("rpc GetItem"), "{out}");
}

#[tokio::test]
async fn grpcurl_round_trips_a_song() {
    let Some(grpcurl) = grpcurl::find() else {
        return;
    };
    let service = start().await;
    let addr = service.addr("grpc").to_string();
    let table = unique_table("Grpcurl");
    let create = format!(r#"{{"table_name": "{table}"}}"#);
    let (ok, out, err) = run_grpcurl(
        &grpcurl,
        &[
            "-plaintext",
            "-d",
            &create,
            &addr,
            "music.v1.TableService/CreateTable",
        ],
    );
    assert!(ok, "CreateTable: {err}");
    assert!(out.contains("TABLE_STATUS_ACTIVE"), "{out}");

    let put = format!(
        r#"{{"table_name": "{table}", "song": {{"artist": "No One You Know", "song_title": "Call Me Today", "album_title": "Somewhat Famous"}}}}"#
    );
    let (ok, _, err) = run_grpcurl(
        &grpcurl,
        &[
            "-plaintext",
            "-rpc-header",
            "x-request-id: grpcurl-put-1",
            "-d",
            &put,
            &addr,
            "music.v1.ItemService/PutItem",
        ],
    );
    assert!(ok, "PutItem: {err}");

    let get = format!(
        r#"{{"table_name": "{table}", "artist": "No One You Know", "song_title": "Call Me Today"}}"#
    );
    let (ok, out, err) = run_grpcurl(
        &grpcurl,
        &[
            "-plaintext",
            "-d",
            &get,
            &addr,
            "music.v1.ItemService/GetItem",
        ],
    );
    assert!(ok, "GetItem: {err}");
    let mut song: serde_json::Value = serde_json::from_str(&out).expect("grpcurl prints JSON");
    // Every song read carries its etag (32 hex characters, from its content).
    let etag = song
        .as_object_mut()
        .and_then(|fields| fields.remove("etag"))
        .unwrap_or_default();
    assert!(
        etag.as_str()
            .is_some_and(|e| e.len() == 32 && e.bytes().all(|b| b.is_ascii_hexdigit())),
        "an etag: {etag}"
    );
    assert_eq!(
        song,
        serde_json::json!({"artist": "No One You Know", "songTitle": "Call Me Today", "albumTitle": "Somewhat Famous"})
    );

    let missing =
        format!(r#"{{"table_name": "{table}", "artist": "Nobody", "song_title": "Nothing"}}"#);
    let (ok, _, err) = run_grpcurl(
        &grpcurl,
        &[
            "-plaintext",
            "-d",
            &missing,
            &addr,
            "music.v1.ItemService/GetItem",
        ],
    );
    assert!(!ok);
    assert!(err.contains("NotFound"), "{err}");

    // The request id sent as metadata is in the service's log line of that RPC.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        service
            .log_text()
            .lines()
            .any(|l| l.contains("grpcurl-put-1") && l.contains("PutItem")),
        "request id logged:\n{}",
        service.log_text()
    );
}

#[tokio::test]
async fn grpcurl_health_check_says_serving() {
    let Some(grpcurl) = grpcurl::find() else {
        return;
    };
    let service = start().await;
    let addr = service.addr("grpc").to_string();
    for name in ["", "music.v1.TableService", "music.v1.ItemService"] {
        let body = format!(r#"{{"service": "{name}"}}"#);
        let (ok, out, err) = run_grpcurl(
            &grpcurl,
            &[
                "-plaintext",
                "-d",
                &body,
                &addr,
                "grpc.health.v1.Health/Check",
            ],
        );
        assert!(ok, "{name}: {err}");
        assert!(out.contains("SERVING"), "{name}: {out}");
    }
}

#[tokio::test]
async fn sigterm_stops_the_service_cleanly() {
    let mut service = start().await;
    let status = terminate(&mut service).await;
    assert!(status.success(), "exit status {status:?}");
    let log = service.log_text();
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(log.contains("gRPC server stopped"), "{log}");
}

#[tokio::test]
async fn the_embedded_store_keeps_data_in_the_data_dir_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let table = unique_table("Durable");
    {
        let mut service = start_with_data_dir(data_dir).await;
        use music_api::pb;
        let mut tables = pb::table_service_client::TableServiceClient::connect(service.url("grpc"))
            .await
            .unwrap();
        tables
            .create_table(pb::CreateTableRequest {
                table_name: table.clone(),
                provisioned_throughput: None,
            })
            .await
            .unwrap();
        assert!(terminate(&mut service).await.success());
    }
    assert!(
        dir.path().join("music.db").exists(),
        "data file in the data dir"
    );
    let service = start_with_data_dir(data_dir).await;
    use music_api::pb;
    let mut tables = pb::table_service_client::TableServiceClient::connect(service.url("grpc"))
        .await
        .unwrap();
    let described = tables
        .describe_table(pb::DescribeTableRequest {
            table_name: table.clone(),
        })
        .await
        .expect("the table survived the restart")
        .into_inner();
    assert_eq!(described.name, table);
}
