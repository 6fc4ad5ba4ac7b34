//! An ingress wired to a private moto (table, secret) and a fake Lambda Invoke endpoint, and
//! API Gateway HTTP API (payload 2.0) events to drive it with.

#![allow(dead_code, unused_imports)] // each test binary uses its own part

use aws_config::SdkConfig;
use ingress::Ingress;
use ingress::config::FamilyFunctions;
use ingress::handoff::HandOff;
use ingress::keys::{KeyRing, KeySource};

/// The production refresh interval, so only a test's own retry timing is ever short.
const REFRESH: std::time::Duration =
    std::time::Duration::from_secs(ingress::config::DEFAULT_KEY_REFRESH_SECONDS);
use lambda_http::{Body, Request, Response};
use shared::{Limits, LinkPolicy, SessionsTable};
use testkit::{FakeLambda, Moto};

pub const TABLE: &str = "sessions";
pub use testkit::samples::{KEY, PREVIOUS_KEY, bytes as sample, names as samples};

pub fn functions() -> FamilyFunctions {
    FamilyFunctions {
        sms: "identomat-sms".into(),
        email: "identomat-email".into(),
        session_status: "identomat-session-status".into(),
        video_call: "identomat-video-call".into(),
    }
}

pub struct Stack {
    pub moto: Moto,
    pub lambda: FakeLambda,
    pub aws: SdkConfig,
    pub ingress: Ingress,
}

/// The reference samples use both keys: accept both, as during a rotation.
pub fn sample_keys() -> KeySource {
    KeySource::Fixed(testkit::samples::keys())
}

impl Stack {
    pub async fn start(keys: KeySource) -> Self {
        Self::start_with(keys, Limits::default()).await
    }

    pub async fn start_with(keys: KeySource, limits: Limits) -> Self {
        let moto = Moto::start().await;
        let aws = moto.sdk_config().await;
        testkit::create_sessions_table(&aws, TABLE).await;
        let lambda = FakeLambda::start().await;
        let ingress = ingress_for(&aws, &lambda.endpoint(), keys, limits).await;
        Self {
            moto,
            lambda,
            aws,
            ingress,
        }
    }

    pub async fn post(&self, body: &[u8]) -> Response<Body> {
        self.send(event("POST", body, false)).await
    }

    pub async fn send(&self, request: Request) -> Response<Body> {
        match self.ingress.handle(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

pub async fn ingress_for(
    aws: &SdkConfig,
    lambda_endpoint: &str,
    keys: KeySource,
    limits: Limits,
) -> Ingress {
    let lambda = aws_sdk_lambda::config::Builder::from(aws)
        .endpoint_url(lambda_endpoint)
        .build();
    Ingress {
        keys: KeyRing::load(keys, REFRESH).await,
        links: LinkPolicy::default(),
        limits,
        handoff: HandOff::new(aws_sdk_lambda::Client::from_conf(lambda), functions()),
        table: SessionsTable::new(aws_sdk_dynamodb::Client::new(aws), TABLE),
    }
}

pub fn event(method: &str, body: &[u8], base64: bool) -> Request {
    lambda_http::request::from_str(&testkit::samples::apigw_event(method, body, base64))
        .expect("a valid event")
}

pub fn body_text(response: &Response<Body>) -> String {
    String::from_utf8(response.body().as_ref().to_vec()).expect("UTF-8 body")
}

pub fn body_json(response: &Response<Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).expect("JSON body")
}

/// Deletes the test's table, so that every write to it fails as an unavailable table would.
pub async fn drop_table(aws: &SdkConfig) {
    aws_sdk_dynamodb::Client::new(aws)
        .delete_table()
        .table_name(TABLE)
        .send()
        .await
        .expect("the table is deleted");
}
