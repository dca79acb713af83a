//! The programs the abuse tests attack, started as the contract says they
//! listen: the gateway has an admin listener of its own (`--admin-listen`,
//! where `/metrics` lives), so a pure gateway logs two `listening on` lines
//! (http, admin) and the in-process gateway three (http, grpc, admin).

use music_testkit::{Answer, Program, curl};

/// The tutorial's item route under the default stage.
pub(crate) const ITEM_ROUTE: &str = "/Test/DemoResourceMusic/DemoResourceMusicItem";
/// The tutorial's table route under the default stage.
pub(crate) const TABLE_ROUTE: &str = "/Test/DemoResourceMusic/DemoResourceMusicTable";

/// music-gateway in front of the service at `upstream` (`http://ADDR`), its
/// REST and admin listeners on any port, with `args` added.
pub(crate) async fn pure_gateway(upstream: &str, args: &[&str]) -> Program {
    let mut all = vec![
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream,
        "--admin-listen",
        "127.0.0.1:0",
    ];
    all.extend_from_slice(args);
    Program::start("music-gateway", &all, &[], 2).await
}

/// Creates the `Music` table through the gateway's tutorial route.
pub(crate) async fn create_music_table(gateway: &Program) -> Answer {
    let url = format!("{}{TABLE_ROUTE}", gateway.url("http"));
    curl(&["-X", "PUT", &url, "-H", "table: Music"]).await
}
