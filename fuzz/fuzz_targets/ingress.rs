//! Any bytes POSTed to the Callback URL: the ingress answers one of its statuses and never
//! panics. A body that passes every check is handed off to an endpoint where nothing listens,
//! so it ends as a quick 503 rather than a network wait.

#![no_main]

use std::sync::OnceLock;

use shared::{CallbackKeys, Limits, LinkPolicy, SessionsTable};
use ingress::Ingress;
use ingress::config::FamilyFunctions;
use ingress::handoff::HandOff;
use ingress::keys::{KeyRing, KeySource, REFRESH};
use lambda_http::http::Method;
use lambda_http::{Body, Request};
use libfuzzer_sys::fuzz_target;

/// The key of the samples in events/, so the seed corpus gets past authentication.
const KEY: &str = "apikey123";
const NOWHERE: &str = "http://127.0.0.1:9";

struct Harness {
    runtime: tokio::runtime::Runtime,
    ingress: Ingress,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let credentials =
            || aws_sdk_lambda::config::Credentials::new("fuzz", "fuzz", None, None, "fuzz");
        let lambda = aws_sdk_lambda::Config::builder()
            .region(aws_sdk_lambda::config::Region::new("us-east-1"))
            .endpoint_url(NOWHERE)
            .credentials_provider(credentials())
            .build();
        let dynamodb = aws_sdk_dynamodb::Config::builder()
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .endpoint_url(NOWHERE)
            .credentials_provider(credentials())
            .build();
        let keys = CallbackKeys::new(Some(KEY), None);
        let ingress = runtime.block_on(async {
            Ingress {
                keys: KeyRing::load(KeySource::Fixed(keys), REFRESH).await,
                links: LinkPolicy::default(),
                limits: Limits::default(),
                handoff: HandOff::new(
                    aws_sdk_lambda::Client::from_conf(lambda),
                    FamilyFunctions {
                        sms: "sms".into(),
                        email: "email".into(),
                        session_status: "session-status".into(),
                        video_call: "video-call".into(),
                    },
                ),
                table: SessionsTable::new(
                    aws_sdk_dynamodb::Client::from_conf(dynamodb),
                    "sessions",
                ),
            }
        });
        Harness { runtime, ingress }
    })
}

fuzz_target!(|body: &[u8]| {
    let harness = harness();
    let mut request = Request::new(Body::from(body.to_vec()));
    *request.method_mut() = Method::POST;
    let response = match harness.runtime.block_on(harness.ingress.handle(request)) {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    assert!(
        matches!(status, 202 | 400 | 401 | 413 | 422 | 503),
        "unexpected status {status}"
    );
});
