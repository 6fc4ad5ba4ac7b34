//! `POST /callbacks`: size -> JSON object -> key -> fields -> hand-off. Every answer is one row
//! of the contract table in the README, and every request is one JSON log line.

use std::time::Instant;

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use shared::callback::Route;
use shared::redact::Fingerprint;
use shared::refusal::RefusedCallback;
use shared::{
    Acceptance, Callback, Envelope, Limits, LinkPolicy, Rejection, SessionsTable, Timestamp,
};

use crate::handoff::HandOff;
use crate::keys::KeyRing;

/// Seconds a sender should wait after a 503.
const RETRY_AFTER_SECONDS: &str = "5";

pub struct Ingress {
    pub keys: KeyRing,
    pub links: LinkPolicy,
    pub limits: Limits,
    pub handoff: HandOff,
    pub table: SessionsTable,
}

/// What happened to one request, for its answer and its log line.
enum Outcome {
    Accepted,
    StoredUnhandled,
    Rejected(Rejection),
    MethodNotAllowed,
    KeysUnavailable,
    HandOffFailed,
    StoreFailed,
}

impl Outcome {
    fn status(&self) -> StatusCode {
        let code = match self {
            Outcome::Accepted | Outcome::StoredUnhandled => 202,
            Outcome::Rejected(r) => r.status(),
            Outcome::MethodNotAllowed => 405,
            Outcome::KeysUnavailable | Outcome::HandOffFailed | Outcome::StoreFailed => 503,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn name(&self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::StoredUnhandled => "stored-unhandled",
            // Its own metric, so an alarm can watch failed keys apart from bad bodies.
            Outcome::Rejected(Rejection::Unauthorized(_)) => "unauthorized",
            Outcome::Rejected(_) => "rejected",
            Outcome::MethodNotAllowed => "method-not-allowed",
            Outcome::KeysUnavailable => "keys-unavailable",
            Outcome::HandOffFailed => "handoff-failed",
            Outcome::StoreFailed => "store-failed",
        }
    }

    /// The answer's body. Rejections carry no request id: the 401 for a missing key and for a
    /// wrong key must be the same bytes.
    fn body(&self, request_id: &str) -> serde_json::Value {
        match self {
            Outcome::Accepted | Outcome::StoredUnhandled => {
                json!({"status": "accepted", "requestId": request_id})
            }
            Outcome::Rejected(Rejection::Unauthorized(_)) => {
                json!({"status": "rejected", "error": "unauthorized"})
            }
            Outcome::Rejected(r) => json!({"status": "rejected", "error": r.to_string()}),
            Outcome::MethodNotAllowed => {
                json!({"status": "rejected", "error": "only POST is accepted"})
            }
            Outcome::KeysUnavailable | Outcome::HandOffFailed | Outcome::StoreFailed => json!({
                "status": "unavailable",
                "error": "temporarily unavailable, try again",
                "requestId": request_id,
            }),
        }
    }
}

impl Ingress {
    pub async fn handle(
        &self,
        request: Request,
    ) -> Result<Response<Body>, std::convert::Infallible> {
        let started = Instant::now();
        // The ingress's own clock: callbacks carry no time, and the local emulator's request
        // time is in seconds.
        let received_at = Timestamp::now();
        let request_id = request_id_of(&request);

        let mut callback_type: Option<String> = None;
        let mut session: Option<Fingerprint> = None;
        // The field and the rule of a 422, for the log line: never the value.
        let mut refusal: Option<(&'static str, String)> = None;
        let outcome = if request.method() != Method::POST {
            Outcome::MethodNotAllowed
        } else {
            match self.keys.keys().await {
                Err(e) => {
                    tracing::warn!(requestId = %request_id, error = %e);
                    Outcome::KeysUnavailable
                }
                Ok(keys) => {
                    let acceptance = Acceptance {
                        keys,
                        links: self.links.clone(),
                        limits: self.limits,
                    };
                    match acceptance.accept(request.body().as_ref()) {
                        Err(Rejection::Invalid(invalid)) => {
                            let refused = RefusedCallback::of(
                                request.body().as_ref(),
                                invalid,
                                self.links.allowed_hosts(),
                            );
                            callback_type = refused.type_name.map(str::to_owned);
                            session = refused.session_id.as_ref().map(|s| s.fingerprint());
                            refusal = Some((invalid.field, refused.rule()));
                            self.record_refusal(&refused, &request_id, received_at)
                                .await
                                .unwrap_or(Outcome::Rejected(Rejection::Invalid(invalid)))
                        }
                        Err(rejection) => Outcome::Rejected(rejection),
                        Ok(callback) => {
                            callback_type = Some(loggable_type(callback.type_name()));
                            session = callback.session_id().map(|s| s.fingerprint());
                            self.dispatch(callback, &request_id, received_at).await
                        }
                    }
                }
            }
        };

        let status = outcome.status();
        let reason = match &outcome {
            Outcome::Rejected(r) => r.reason(),
            _ => "",
        };
        tracing::info!(
            target: shared::metrics::TARGET,
            function = "ingress",
            requestId = %request_id,
            r#type = callback_type.as_deref().unwrap_or(""),
            outcome = outcome.name(),
            reason,
            field = refusal.as_ref().map(|(field, _)| *field),
            rule = refusal.as_ref().map(|(_, rule)| rule.as_str()),
            status = status.as_u16(),
            durationMs = started.elapsed().as_secs_f64() * 1000.0,
            session = %session.map(|f| f.to_string()).unwrap_or_default(),
            "callback"
        );
        Ok(respond(status, &outcome, &request_id))
    }

    /// Stores the refused callback's `rejected#` record, so that every authenticated callback
    /// leaves a trace; `Some(StoreFailed)` when it could not be (503: the platform retries, and
    /// the refusal is recorded then), `None` when it was.
    async fn record_refusal(
        &self,
        refused: &RefusedCallback,
        request_id: &str,
        received_at: Timestamp,
    ) -> Option<Outcome> {
        match self
            .table
            .put_rejected(refused, request_id, received_at)
            .await
        {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(requestId = %request_id, error = %e, "refusal not recorded");
                Some(Outcome::StoreFailed)
            }
        }
    }

    async fn dispatch(
        &self,
        callback: Callback,
        request_id: &str,
        received_at: Timestamp,
    ) -> Outcome {
        let family = match callback.route() {
            Route::Family(family) => family,
            Route::Unhandled(unhandled) => {
                return match self
                    .table
                    .put_unhandled(unhandled, request_id, received_at)
                    .await
                {
                    Ok(()) => Outcome::StoredUnhandled,
                    Err(e) => {
                        tracing::warn!(requestId = %request_id, error = %e);
                        Outcome::StoreFailed
                    }
                };
            }
        };
        let envelope = Envelope {
            request_id: request_id.to_owned(),
            received_at,
            callback,
        };
        match self.handoff.send(family, &envelope).await {
            Ok(()) => Outcome::Accepted,
            Err(e) => {
                tracing::warn!(requestId = %request_id, family = family.name(), error = %e);
                Outcome::HandOffFailed
            }
        }
    }
}

/// API Gateway's request id, else the Lambda invocation's, else a new one.
fn request_id_of(request: &Request) -> String {
    let from_gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    from_gateway
        .filter(|id| !id.is_empty())
        .or_else(|| {
            request
                .lambda_context_ref()
                .map(|c| c.request_id.clone())
                .filter(|id| !id.is_empty())
        })
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// An unknown type's name comes from the sender: bounded and printable before it is logged.
fn loggable_type(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(64).collect()
}

fn respond(status: StatusCode, outcome: &Outcome, request_id: &str) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json");
    match outcome {
        Outcome::MethodNotAllowed => builder = builder.header(header::ALLOW, "POST"),
        Outcome::KeysUnavailable | Outcome::HandOffFailed | Outcome::StoreFailed => {
            builder = builder.header(header::RETRY_AFTER, RETRY_AFTER_SECONDS)
        }
        _ => {}
    }
    let body = Body::from(outcome.body(request_id).to_string());
    builder.body(body).unwrap_or_else(|_| {
        // Only reachable with an invalid header, and every header above is a constant.
        let mut fallback = Response::new(Body::Empty);
        *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::metrics::catalogue::lists;
    use shared::metrics::{Emitted, metric_name};

    #[test]
    fn every_outcome_is_a_metric_the_catalogue_lists() {
        let outcomes = [
            Outcome::Accepted,
            Outcome::StoredUnhandled,
            Outcome::Rejected(Rejection::Unauthorized(shared::AuthError::Wrong)),
            Outcome::Rejected(Rejection::Malformed(shared::MalformedBody::NotJson)),
            Outcome::MethodNotAllowed,
            Outcome::KeysUnavailable,
            Outcome::HandOffFailed,
            Outcome::StoreFailed,
        ];
        for outcome in outcomes {
            let metric = Emitted {
                function: "ingress".into(),
                metric: metric_name(outcome.name()),
                reason: String::new(),
            };
            assert!(lists(&metric), "{metric:?}");
        }
    }
}
