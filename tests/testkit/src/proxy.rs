//! A loopback proxy in front of moto that forwards every request and lets a test fail one
//! chosen request: DynamoDB failing on its second write only, SNS taking a message and then
//! answering too late. What moto recorded then shows what really happened.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use tokio::task::JoinHandle;

/// What the proxy does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward it and return moto's answer.
    Pass,
    /// Answer `status` with `body` without forwarding: the call did not happen.
    Refuse { status: u16, body: String },
    /// Forward it (moto carries it out), then hold the answer this long: the caller times out
    /// on a call that happened.
    AnswerLate(Duration),
}

/// A request as the rule sees it: its operation and how many of that operation came before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `X-Amz-Target` (DynamoDB: `DynamoDB_20120810.UpdateItem`) or the query's `Action`
    /// (SNS, SES: `Publish`, `SendEmail`).
    pub operation: String,
    /// 0 for the first request of this operation, 1 for the second, ...
    pub nth: usize,
    /// The request's body as text, to pick one kind of write (an update's expression, ...).
    pub body: String,
}

type Rule = dyn Fn(&Call) -> Fault + Send + Sync;

pub struct FaultProxy {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<Call>>>,
    server: JoinHandle<()>,
}

impl FaultProxy {
    /// Forwards to `upstream` (moto's endpoint), applying `rule` to each request.
    pub async fn new(
        upstream: &str,
        rule: impl Fn(&Call) -> Fault + Send + Sync + 'static,
    ) -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let rule: Arc<Rule> = Arc::new(rule);
        let upstream: Arc<str> = upstream.trim_end_matches('/').into();
        let http = reqwest::Client::new();
        let seen = calls.clone();
        let (addr, server) = crate::serve::serve(move |request| {
            let (seen, rule, upstream, http) =
                (seen.clone(), rule.clone(), upstream.clone(), http.clone());
            async move { handle(request, &seen, &*rule, &upstream, &http).await }
        })
        .await;
        Self {
            addr,
            calls,
            server,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }

    /// How many requests of `operation` it saw.
    pub fn count(&self, operation: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(
    request: Request<hyper::body::Incoming>,
    seen: &Mutex<Vec<Call>>,
    rule: &Rule,
    upstream: &str,
    http: &reqwest::Client,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query_action(&body))
        .unwrap_or_default();
    let call = {
        let mut seen = seen.lock().expect("calls");
        let nth = seen.iter().filter(|c| c.operation == operation).count();
        let text = String::from_utf8_lossy(&body).into_owned();
        let call = Call {
            operation,
            nth,
            body: text,
        };
        seen.push(call.clone());
        call
    };
    let late = match rule(&call) {
        Fault::Refuse { status, body } => {
            let kind = match body.starts_with('<') {
                true => "text/xml",
                false => "application/x-amz-json-1.0",
            };
            return respond(status, kind, Bytes::from(body));
        }
        Fault::Pass => None,
        Fault::AnswerLate(delay) => Some(delay),
    };
    let url = format!("{upstream}{}", parts.uri);
    let mut forward = http.request(parts.method.clone(), url).body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            forward = forward.header(name, value);
        }
    }
    let (status, kind, body) = match forward.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let kind = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("text/xml")
                .to_owned();
            (status, kind, r.bytes().await.unwrap_or_default())
        }
        Err(_) => (502, "text/plain".to_owned(), Bytes::new()),
    };
    if let Some(delay) = late {
        tokio::time::sleep(delay).await;
    }
    respond(status, &kind, body)
}

/// `Action=Publish&...` of a query-protocol body.
fn query_action(body: &[u8]) -> Option<String> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_owned)
}

fn respond(status: u16, kind: &str, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", kind)
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
