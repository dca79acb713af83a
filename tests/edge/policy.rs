//! The resource policy: the tutorial's template with its placeholders filled
//! (a VPC mapped to 127.0.0.2), a table of policies and requests with the
//! answer each must get, policies that stop the start (and what they say),
//! `X-Forwarded-For` from trusted proxies only, and SIGHUP reloads under load.

use std::time::Duration;

use music_testkit::{Curl, load::Load};

use crate::support::{Files, NO_UPSTREAM, TABLE, curl_from, gateway, refused_start, service};

/// The tutorial's template, placeholders filled: every stage, verb and path;
/// the VPC `vpc-1234`.
const TUTORIAL_POLICY: &str = r#"{"Version": "2012-10-17","Statement": [{"Effect": "Deny","Principal": "*","Action": "execute-api:Invoke","Resource": "execute-api:/*/*/*","Condition": {"StringNotEquals": {"aws:sourceVpc": "vpc-1234"}}},{"Effect": "Allow","Principal": "*","Action": "execute-api:Invoke","Resource": "execute-api:/*/*/*"}]}"#;

/// The resource ARN of a request as the 403 names it (account masked).
fn arn(method: &str, path_in_stage: &str) -> String {
    format!(
        "arn:aws:execute-api:us-east-1:********0000:music-api/Test/{method}/{}",
        path_in_stage.trim_start_matches('/')
    )
}

#[tokio::test]
async fn the_tutorials_policy_serves_its_vpc_and_denies_everyone_else() {
    let files = Files::new();
    let policy = files.write("policy.json", TUTORIAL_POLICY);
    let service = service().await;
    let gateway = gateway(
        &service.url("grpc"),
        &[
            "--resource-policy",
            &policy,
            "--vpc",
            "vpc-1234=127.0.0.2/32",
        ],
    )
    .await;
    let url = format!("{}{TABLE}", gateway.url("http"));
    let outside = curl_from("127.0.0.1", "PUT", &url)
        .header("content-type: application/json")
        .header("table: Music")
        .send()
        .await;
    outside.assert_json(
        403,
        &format!(
            r#"{{"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {} with an explicit deny"}}"#,
            arn("PUT", "/DemoResourceMusic/DemoResourceMusicTable")
        ),
    );
    assert_eq!(
        outside.header("x-amzn-errortype"),
        Some("AccessDeniedException")
    );
    let inside = curl_from("127.0.0.2", "PUT", &url)
        .header("content-type: application/json")
        .header("table: Music")
        .send()
        .await;
    inside.assert_json(200, r#""Table created""#);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Let through to the route (the upstream is down: 503, or the route's 405).
    Allowed,
    ExplicitDeny,
    NoAllow,
}

/// One statement: `effect`, a `Resource` (or `NotResource`) and an optional
/// `Condition` object.
fn statement(effect: &str, resource_field: &str, resource: &str, condition: &str) -> String {
    let condition = if condition.is_empty() {
        String::new()
    } else {
        format!(r#", "Condition": {condition}"#)
    };
    format!(
        r#"{{"Effect": "{effect}", "Principal": "*", "Action": "execute-api:Invoke", "{resource_field}": "{resource}"{condition}}}"#
    )
}

fn allow(resource: &str) -> String {
    statement("Allow", "Resource", resource, "")
}

fn allow_if(resource: &str, condition: &str) -> String {
    statement("Allow", "Resource", resource, condition)
}

fn deny(resource: &str) -> String {
    statement("Deny", "Resource", resource, "")
}

fn deny_if(resource: &str, condition: &str) -> String {
    statement("Deny", "Resource", resource, condition)
}

fn list(statements: &[String]) -> String {
    format!("[{}]", statements.join(", "))
}

const ALL: &str = "execute-api:/*/*/*";

/// Starts a gateway with the policy `statement` (a JSON statement list or
/// object) and VPC `vpc-aaa` = 127.0.0.2, endpoint `vpce-bbb` = 127.0.0.3,
/// trusted proxy 127.0.0.4; sends the request; checks the answer.
async fn check(
    statement: String,
    method: &str,
    path: &str,
    from: &str,
    headers: &[&str],
    expect: Expect,
) {
    let files = Files::new();
    let policy = files.write(
        "policy.json",
        &format!(r#"{{"Version": "2012-10-17", "Statement": {statement}}}"#),
    );
    let gateway = gateway(
        NO_UPSTREAM,
        &[
            "--resource-policy",
            &policy,
            "--vpc",
            "vpc-aaa=127.0.0.2/32",
            "--vpc-endpoint",
            "vpce-bbb=127.0.0.3/32",
            "--trusted-proxies",
            "127.0.0.4",
        ],
    )
    .await;
    let mut curl = curl_from(from, method, &format!("{}{path}", gateway.url("http")));
    for header in headers {
        curl = curl.header(header);
    }
    let answer = curl.send().await;
    let in_stage = path.strip_prefix("/Test").unwrap_or(path);
    let denied = format!(
        r#"{{"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {}"#,
        arn(method, in_stage)
    );
    match expect {
        Expect::Allowed => assert_ne!(answer.status, 403, "{statement}: {answer:?}"),
        Expect::ExplicitDeny => answer.assert_json_for(
            &statement,
            403,
            &format!(r#"{denied} with an explicit deny"}}"#),
        ),
        Expect::NoAllow => answer.assert_json_for(&statement, 403, &format!(r#"{denied}"}}"#)),
    }
}

macro_rules! policy_cases {
    ($($name:ident: $statement:expr, $method:literal $path:expr, from $from:literal $([$($header:literal),*])? => $expect:ident;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                check($statement, $method, $path, $from, &[$($($header),*)?], Expect::$expect).await;
            }
        )*
    };
}

const ITEM: &str = crate::support::ITEM;
const V1: &str = "/v1/tables";

policy_cases! {
    allow_everything: list(&[allow(ALL)]), "PUT" TABLE, from "127.0.0.1" => Allowed;
    no_statement_names_the_stage: list(&[allow("execute-api:/Prod/*/*")]), "PUT" TABLE, from "127.0.0.1" => NoAllow;
    deny_beats_allow: list(&[allow(ALL), deny(ALL)]), "PUT" TABLE, from "127.0.0.1" => ExplicitDeny;
    deny_listed_first_beats_allow: list(&[deny(ALL), allow(ALL)]), "GET" ITEM, from "127.0.0.1" => ExplicitDeny;
    deny_of_another_verb_leaves_the_allow: list(&[allow(ALL), deny("execute-api:/*/DELETE/*")]), "PUT" TABLE, from "127.0.0.1" => Allowed;
    deny_of_the_verb_applies: list(&[allow(ALL), deny("execute-api:/*/DELETE/*")]), "DELETE" TABLE, from "127.0.0.1" => ExplicitDeny;
    stage_wildcard_and_path_prefix: list(&[allow("execute-api:/*/PUT/DemoResourceMusic/*")]), "PUT" TABLE, from "127.0.0.1" => Allowed;
    path_prefix_of_another_resource: list(&[allow("execute-api:/Test/PUT/Other/*")]), "PUT" TABLE, from "127.0.0.1" => NoAllow;
    exact_path_allows_only_it: list(&[allow("execute-api:/Test/GET/DemoResourceMusic/DemoResourceMusicItem")]), "GET" ITEM, from "127.0.0.1" => Allowed;
    exact_path_is_not_its_sibling: list(&[allow("execute-api:/Test/GET/DemoResourceMusic/DemoResourceMusicItem")]), "GET" TABLE, from "127.0.0.1" => NoAllow;
    question_mark_is_one_character: list(&[allow("execute-api:/Tes?/*/*")]), "PUT" TABLE, from "127.0.0.1" => Allowed;
    question_mark_is_not_two: list(&[allow("execute-api:/T?/*/*")]), "PUT" TABLE, from "127.0.0.1" => NoAllow;
    full_arn_of_this_api: list(&[allow("arn:aws:execute-api:us-east-1:000000000000:music-api/Test/*/*")]), "PUT" TABLE, from "127.0.0.1" => Allowed;
    full_arn_of_another_region: list(&[allow("arn:aws:execute-api:eu-west-1:*:*/*/*/*")]), "PUT" TABLE, from "127.0.0.1" => NoAllow;
    full_arn_with_wildcards: list(&[allow("arn:aws:execute-api:*:*:*/*/GET/*")]), "GET" ITEM, from "127.0.0.1" => Allowed;
    not_resource_allows_the_rest: list(&[statement("Allow", "NotResource", "execute-api:/*/DELETE/*", "")]), "PUT" TABLE, from "127.0.0.1" => Allowed;
    not_resource_leaves_out_its_own: list(&[statement("Allow", "NotResource", "execute-api:/*/DELETE/*", "")]), "DELETE" TABLE, from "127.0.0.1" => NoAllow;
    deny_not_resource_denies_the_rest: list(&[allow(ALL), statement("Deny", "NotResource", "execute-api:/*/GET/*", "")]), "PUT" TABLE, from "127.0.0.1" => ExplicitDeny;
    deny_not_resource_spares_its_own: list(&[allow(ALL), statement("Deny", "NotResource", "execute-api:/*/GET/*", "")]), "GET" ITEM, from "127.0.0.1" => Allowed;
    string_equals_vpc_inside: list(&[allow_if(ALL, r#"{"StringEquals": {"aws:SourceVpc": "vpc-aaa"}}"#)]), "PUT" TABLE, from "127.0.0.2" => Allowed;
    string_equals_vpc_outside: list(&[allow_if(ALL, r#"{"StringEquals": {"aws:SourceVpc": "vpc-aaa"}}"#)]), "PUT" TABLE, from "127.0.0.1" => NoAllow;
    string_not_equals_denies_outside: list(&[allow(ALL), deny_if(ALL, r#"{"StringNotEquals": {"aws:SourceVpc": "vpc-aaa"}}"#)]), "PUT" TABLE, from "127.0.0.1" => ExplicitDeny;
    string_not_equals_spares_inside: list(&[allow(ALL), deny_if(ALL, r#"{"StringNotEquals": {"aws:SourceVpc": "vpc-aaa"}}"#)]), "PUT" TABLE, from "127.0.0.2" => Allowed;
    string_equals_if_exists_holds_without_a_vpc: list(&[allow_if(ALL, r#"{"StringEqualsIfExists": {"aws:SourceVpc": "vpc-zzz"}}"#)]), "PUT" TABLE, from "127.0.0.1" => Allowed;
    string_equals_if_exists_checks_a_vpc: list(&[allow_if(ALL, r#"{"StringEqualsIfExists": {"aws:SourceVpc": "vpc-zzz"}}"#)]), "PUT" TABLE, from "127.0.0.2" => NoAllow;
    string_not_equals_if_exists_spares_no_vpc: list(&[allow(ALL), deny_if(ALL, r#"{"StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-aaa"}}"#)]), "PUT" TABLE, from "127.0.0.2" => Allowed;
    string_not_equals_if_exists_denies_without_a_vpc: list(&[allow(ALL), deny_if(ALL, r#"{"StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-aaa"}}"#)]), "PUT" TABLE, from "127.0.0.1" => ExplicitDeny;
    string_like_vpce_prefix: list(&[allow_if(ALL, r#"{"StringLike": {"aws:SourceVpce": "vpce-b*"}}"#)]), "PUT" TABLE, from "127.0.0.3" => Allowed;
    string_like_without_a_vpce: list(&[allow_if(ALL, r#"{"StringLike": {"aws:SourceVpce": "vpce-b*"}}"#)]), "PUT" TABLE, from "127.0.0.1" => NoAllow;
    string_like_if_exists_without_a_vpce: list(&[allow_if(ALL, r#"{"StringLikeIfExists": {"aws:SourceVpce": "vpce-x*"}}"#)]), "PUT" TABLE, from "127.0.0.1" => Allowed;
    string_not_like_spares_a_match: list(&[allow(ALL), deny_if(ALL, r#"{"StringNotLike": {"aws:SourceVpc": "vpc-a*"}}"#)]), "PUT" TABLE, from "127.0.0.2" => Allowed;
    string_not_like_denies_without_a_vpc: list(&[allow(ALL), deny_if(ALL, r#"{"StringNotLike": {"aws:SourceVpc": "vpc-a*"}}"#)]), "PUT" TABLE, from "127.0.0.1" => ExplicitDeny;
    string_not_like_if_exists_denies_another_vpc: list(&[allow(ALL), deny_if(ALL, r#"{"StringNotLikeIfExists": {"aws:SourceVpc": "vpc-z*"}}"#)]), "PUT" TABLE, from "127.0.0.2" => ExplicitDeny;
    ip_address_in_range: list(&[allow_if(ALL, r#"{"IpAddress": {"aws:SourceIp": "127.0.0.0/30"}}"#)]), "PUT" TABLE, from "127.0.0.1" => Allowed;
    ip_address_out_of_range: list(&[allow_if(ALL, r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#)]), "PUT" TABLE, from "127.0.0.1" => NoAllow;
    not_ip_address_denies_the_others: list(&[allow(ALL), deny_if(ALL, r#"{"NotIpAddress": {"aws:SourceIp": "127.0.0.2/32"}}"#)]), "PUT" TABLE, from "127.0.0.1" => ExplicitDeny;
    not_ip_address_spares_its_own: list(&[allow(ALL), deny_if(ALL, r#"{"NotIpAddress": {"aws:SourceIp": "127.0.0.2/32"}}"#)]), "PUT" TABLE, from "127.0.0.2" => Allowed;
    ip_address_if_exists_is_checked: list(&[allow_if(ALL, r#"{"IpAddressIfExists": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.1"]}}"#)]), "PUT" TABLE, from "127.0.0.1" => Allowed;
    not_ip_address_if_exists_is_checked: list(&[allow_if(ALL, r#"{"NotIpAddressIfExists": {"aws:SourceIp": "127.0.0.1"}}"#)]), "PUT" TABLE, from "127.0.0.1" => NoAllow;
    values_of_a_key_are_alternatives: list(&[allow_if(ALL, r#"{"StringEquals": {"aws:SourceVpc": ["vpc-x", "vpc-aaa"]}}"#)]), "PUT" TABLE, from "127.0.0.2" => Allowed;
    operators_must_all_hold: list(&[allow_if(ALL, r#"{"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}, "StringEquals": {"aws:SourceVpc": "vpc-aaa"}}"#)]), "PUT" TABLE, from "127.0.0.1" => NoAllow;
    condition_keys_ignore_case: list(&[allow_if(ALL, r#"{"StringEquals": {"AWS:SOURCEVPC": "vpc-aaa"}}"#)]), "PUT" TABLE, from "127.0.0.2" => Allowed;
    action_wildcard: format!(r#"[{{"Effect": "Allow", "Principal": {{"AWS": "*"}}, "Action": "execute-api:*", "Resource": "{ALL}"}}]"#), "PUT" TABLE, from "127.0.0.1" => Allowed;
    action_of_another_service: format!(r#"[{{"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"], "Resource": "{ALL}"}}]"#), "PUT" TABLE, from "127.0.0.1" => NoAllow;
    not_action_of_another_service: format!(r#"[{{"Effect": "Allow", "Principal": "*", "NotAction": "s3:*", "Resource": "{ALL}"}}]"#), "PUT" TABLE, from "127.0.0.1" => Allowed;
    one_statement_object: allow(ALL), "GET" ITEM, from "127.0.0.1" => Allowed;
    v1_routes_are_resources_too: list(&[allow("execute-api:/Test/GET/v1/*")]), "GET" V1, from "127.0.0.1" => Allowed;
    v1_routes_can_be_denied: list(&[allow(ALL), deny("execute-api:/*/*/v1/*")]), "GET" V1, from "127.0.0.1" => ExplicitDeny;
    forwarded_for_counts_from_a_trusted_proxy: list(&[allow_if(ALL, r#"{"StringEquals": {"aws:SourceVpc": "vpc-aaa"}}"#)]), "PUT" TABLE, from "127.0.0.4" ["X-Forwarded-For: 198.51.100.9, 127.0.0.2"] => Allowed;
    forwarded_for_is_ignored_from_others: list(&[allow_if(ALL, r#"{"StringEquals": {"aws:SourceVpc": "vpc-aaa"}}"#)]), "PUT" TABLE, from "127.0.0.1" ["X-Forwarded-For: 127.0.0.2"] => NoAllow;
    forwarded_for_right_most_untrusted_address: list(&[allow(ALL), deny_if(ALL, r#"{"IpAddress": {"aws:SourceIp": "198.51.100.9"}}"#)]), "PUT" TABLE, from "127.0.0.4" ["X-Forwarded-For: 127.0.0.2, 198.51.100.9"] => ExplicitDeny;
}

/// Policies that do not parse stop the start, saying where and what.
#[tokio::test]
async fn malformed_policies_stop_the_start_naming_the_place() {
    let template = r#"{"Version": "2012-10-17","Statement": [{"Effect": "Deny","Principal": "*","Action": "execute-api:Invoke","Resource": "execute-api:/{{stageNameOrWildcard}}/{{httpVerbOrWildcard}}/{{resourcePathOrWildcard}}","Condition": {"StringNotEquals": {"aws:sourceVpc": "{{vpcID}}"}}}]}"#;
    let cases = [
        ("{\"Version\": ", "is not valid JSON: EOF while parsing"),
        (
            template,
            "statement 0: Resource: \"execute-api:/{{stageNameOrWildcard}}/{{httpVerbOrWildcard}}/{{resourcePathOrWildcard}}\" still holds the template's placeholder {{stageNameOrWildcard}}; fill it in",
        ),
        (
            r#"{"Statement": [{"Sid": "Open", "Efect": "Allow"}]}"#,
            r#"statement 0 (Sid "Open"): unknown field "Efect""#,
        ),
        (
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}, {"Sid": "Second", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceArn": "x"}}}]}"#,
            r#"statement 1 (Sid "Second"): Condition: StringEquals: "aws:SourceArn": not a condition key the gateway knows"#,
        ),
        (
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "300.0.0.1"}}}]}"#,
            "statement 0: Condition: IpAddress: \"aws:SourceIp\": \"300.0.0.1\" is not an IP address or CIDR range",
        ),
        (
            r#"{"Statement": [{"Effect": "Permit", "Principal": "*", "Action": "*", "Resource": "*"}]}"#,
            "statement 0: Effect: unknown variant `Permit`",
        ),
        (
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]}"#,
            "statement 0: Resource: missing",
        ),
    ];
    for (text, expected) in cases {
        let files = Files::new();
        let path = files.write("policy.json", text);
        let (code, log) = refused_start(&["--resource-policy", &path]).await;
        assert_eq!(code, Some(1), "{text}: {log}");
        assert!(
            log.contains(&format!("resource policy {path}: {expected}")),
            "{text}\nexpected: {expected}\nlog: {log}"
        );
        assert!(!log.contains("listening on 127.0.0.1"), "{log}");
    }
}

/// Policies swapped by SIGHUP while requests flow: none is lost or failed;
/// a file that does not parse keeps the policy in force; a new policy takes
/// effect.
#[tokio::test]
async fn sighup_reloads_the_policy_under_load_losing_no_request() {
    let files = Files::new();
    let path = files.write(
        "policy.json",
        &format!(r#"{{"Statement": {}}}"#, list(&[allow(ALL)])),
    );
    let service = service().await;
    let gateway = gateway(&service.url("grpc"), &["--resource-policy", &path]).await;
    let addr = gateway.addr("http");
    let load = Load::new(addr, "GET", crate::support::ITEM)
        .header("table", "Music")
        .header("artist", "a")
        .header("songtitle", "b")
        .pace(200, Duration::from_secs(3));
    let running = tokio::spawn(async move { load.run().await });
    for round in 0..12 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let text = if round % 4 == 3 {
            // Not a policy: the one in force stays.
            "{ this is not JSON".to_owned()
        } else {
            format!(
                r#"{{"Statement": {}}}"#,
                list(&[
                    allow(ALL),
                    deny(&format!("execute-api:/Prod/GET/round-{round}"))
                ])
            )
        };
        std::fs::write(&path, text).expect("rewrite the policy");
        gateway.signal("HUP");
    }
    let tally = running.await.expect("the load ran");
    assert_eq!(tally.failed, 0, "{tally:?}");
    // GetItem on a missing table: the tutorial's 500, from the service. Every
    // request got that answer: none was refused, dropped or cut.
    assert_eq!(tally.count(500), tally.sent, "{tally:?}");
    let kept = gateway
        .line(Duration::from_secs(5), |l| {
            l.contains("keeping the policy in force")
        })
        .await;
    assert!(kept.is_some(), "{}", gateway.log_text());

    std::fs::write(
        &path,
        format!(
            r#"{{"Statement": {}}}"#,
            list(&[allow(ALL), deny("execute-api:/*/GET/*")])
        ),
    )
    .unwrap();
    let reloads = gateway
        .log_lines()
        .iter()
        .filter(|l| l.contains("resource policy reloaded"))
        .count();
    gateway.signal("HUP");
    let reloaded =
        music_testkit::eventually(Duration::from_secs(5), Duration::from_millis(20), || {
            let now = gateway
                .log_lines()
                .iter()
                .filter(|l| l.contains("resource policy reloaded"))
                .count();
            async move { now > reloads }
        })
        .await;
    assert!(reloaded.is_some(), "{}", gateway.log_text());
    let url = format!("{}{}", gateway.url("http"), crate::support::ITEM);
    let denied = Curl::request("GET", &url).send().await;
    assert_eq!(denied.status, 403, "{denied:?}");
    assert!(
        denied.body.ends_with(r#" with an explicit deny"}"#),
        "{denied:?}"
    );
}
