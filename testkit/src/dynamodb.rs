//! Straight to the store: an aws-sdk-dynamodb client of a DynamoDB-compatible
//! endpoint (DynamoDB Local, the test's embedded dynoxide, a store proxy),
//! with fixed dummy credentials, so that a test reads what is really there,
//! or asks the store itself what it answers, whatever the service under test
//! says.
//!
//! Owns: [`client`].

use aws_sdk_dynamodb::{
    Client,
    config::{BehaviorVersion, Credentials, Region},
};

/// A fresh client of `endpoint` (`http://ADDR`). DynamoDB Local (`-sharedDb`)
/// and dynoxide check no signature, so the credentials are dummies.
pub fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "music-testkit",
        ))
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}
