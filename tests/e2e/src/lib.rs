//! The whole system in one process: the ingress, the four families and moto, joined by the real
//! hand-off. The ingress invokes the families through the Lambda Invoke API (a loopback
//! endpoint that records each invocation); [`System::run_families`] then gives each recorded
//! payload to its family, as Lambda does with an asynchronous invoke.

use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use email::{EmailConfig, EmailFamily};
use ingress::Ingress;
use ingress::config::DEFAULT_KEY_REFRESH_SECONDS;
use ingress::config::FamilyFunctions;
use ingress::handoff::HandOff;
use ingress::keys::{KeyRing, KeySource};
use lambda_http::{Body, Response};
use shared::family::{FamilyError, decode};
use shared::{Family, Limits, LinkPolicy, SessionsTable};
use sms::{SmsConfig, SmsFamily};
use testkit::{FakeLambda, Invocation, Moto};

pub const TABLE: &str = "identomat-sessions";
pub const SENDER: &str = "no-reply@verify.example.com";

/// Each family's function name, as the recorded invocations show it.
pub fn family_functions() -> FamilyFunctions {
    FamilyFunctions {
        sms: "sms".into(),
        email: "email".into(),
        session_status: "session-status".into(),
        video_call: "video-call".into(),
    }
}

pub struct System {
    pub moto: Moto,
    pub aws: SdkConfig,
    pub lambda: FakeLambda,
    pub ingress: Ingress,
    pub sms: SmsFamily,
    pub email: EmailFamily,
    pub table: SessionsTable,
    delivered: Mutex<usize>,
}

impl System {
    pub async fn start() -> Self {
        let moto = Moto::start().await;
        let aws = moto.sdk_config().await;
        testkit::create_sessions_table(&aws, TABLE).await;
        let ses = aws_sdk_ses::Client::new(&aws);
        ses.verify_email_identity()
            .email_address(SENDER)
            .send()
            .await
            .expect("verify sender");
        let lambda = FakeLambda::start().await;
        let invoke = aws_sdk_lambda::config::Builder::from(&aws)
            .endpoint_url(lambda.endpoint())
            .build();
        let table = SessionsTable::new(aws_sdk_dynamodb::Client::new(&aws), TABLE);
        let ingress = Ingress {
            keys: KeyRing::load(
                KeySource::Fixed(testkit::samples::keys()),
                std::time::Duration::from_secs(DEFAULT_KEY_REFRESH_SECONDS),
            )
            .await,
            links: LinkPolicy::default(),
            limits: Limits::default(),
            handoff: HandOff::new(
                aws_sdk_lambda::Client::from_conf(invoke),
                family_functions(),
            ),
            table: table.clone(),
        };
        let sms = SmsFamily {
            sns: aws_sdk_sns::Client::new(&aws),
            table: table.clone(),
            config: SmsConfig::from_lookup(&testkit::required_settings).expect("the defaults"),
        };
        let email = EmailFamily {
            ses,
            table: table.clone(),
            config: EmailConfig::from_lookup(&|name: &str| match name {
                "EMAIL_FROM_ADDRESS" => Some(SENDER.to_owned()),
                _ => testkit::required_settings(name),
            })
            .expect("the defaults"),
        };
        Self {
            moto,
            aws,
            lambda,
            ingress,
            sms,
            email,
            table,
            delivered: Mutex::new(0),
        }
    }

    /// Posts `body` to the Callback URL, as API Gateway delivers it.
    pub async fn post(&self, body: &[u8]) -> Response<Body> {
        self.post_as(body, testkit::samples::REQUEST_ID).await
    }

    /// [`System::post`] with API Gateway's request id `request_id`.
    pub async fn post_as(&self, body: &[u8], request_id: &str) -> Response<Body> {
        let event = testkit::samples::apigw_event_with_id("POST", body, false, request_id);
        let request = lambda_http::request::from_str(&event).expect("a valid event");
        match self.ingress.handle(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// The invocations the ingress made since the last call.
    pub fn take_invocations(&self) -> Vec<Invocation> {
        let invocations = self.lambda.invocations();
        let mut delivered = self.delivered.lock().expect("delivered");
        let new = invocations[*delivered..].to_vec();
        *delivered = invocations.len();
        new
    }

    /// Gives one recorded invocation to its family, as Lambda does: the outcome's name.
    pub async fn deliver(&self, invocation: &Invocation) -> Result<&'static str, FamilyError> {
        assert_eq!(invocation.invocation_type.as_deref(), Some("Event"));
        // What the family's main does with the payload before the handler sees it.
        let payload = serde_json::from_slice(&invocation.payload).expect("the payload is JSON");
        let family = Family::ALL
            .into_iter()
            .find(|f| f.name() == invocation.function)
            .unwrap_or_else(|| {
                panic!(
                    "the ingress invoked an unknown function {}",
                    invocation.function
                )
            });
        let envelope = decode(family, payload)?;
        match invocation.function.as_str() {
            "sms" => self.sms.handle(&envelope).await.map(|o| o.name()),
            "email" => self.email.handle(&envelope).await.map(|o| o.name()),
            "session-status" => session_status::handle(&self.table, &envelope)
                .await
                .map(|o| o.name()),
            "video-call" => video_call::handle(&self.table, &envelope)
                .await
                .map(|o| o.name()),
            other => panic!("the ingress invoked an unknown function {other}"),
        }
    }

    /// Runs each family on the invocations the ingress made since the last call, in order.
    /// Returns each invocation's function name and outcome.
    pub async fn run_families(&self) -> Vec<(String, String)> {
        let mut outcomes = Vec::new();
        for invocation in self.take_invocations() {
            let outcome = self
                .deliver(&invocation)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", invocation.function));
            outcomes.push((invocation.function.clone(), outcome.to_owned()));
        }
        outcomes
    }

    /// Delivers `invocations` concurrently, at most `limit` at a time, as Lambda runs a burst
    /// of asynchronous invokes: each outcome, in completion order.
    pub async fn deliver_concurrently(
        self: &Arc<Self>,
        invocations: Vec<Invocation>,
        limit: usize,
    ) -> Vec<Result<&'static str, String>> {
        let permits = Arc::new(tokio::sync::Semaphore::new(limit));
        let mut tasks = tokio::task::JoinSet::new();
        for invocation in invocations {
            let (system, permits) = (Arc::clone(self), Arc::clone(&permits));
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("open semaphore");
                system
                    .deliver(&invocation)
                    .await
                    .map_err(|e| format!("{}: {e}", invocation.function))
            });
        }
        let mut outcomes = Vec::new();
        while let Some(done) = tasks.join_next().await {
            outcomes.push(done.expect("a delivery panicked"));
        }
        outcomes
    }
}
