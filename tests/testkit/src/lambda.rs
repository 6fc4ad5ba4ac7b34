//! A loopback endpoint that speaks the Lambda Invoke API (`POST
//! /2015-03-31/functions/{name}/invocations`), records every invocation and answers as told:
//! accepted, throttled, failing, or slow.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::task::JoinHandle;

/// One call the endpoint received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub function: String,
    /// `X-Amz-Invocation-Type`: `Event` for an asynchronous invoke.
    pub invocation_type: Option<String>,
    pub payload: Vec<u8>,
}

impl Invocation {
    pub fn payload_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).expect("invocation payload is JSON")
    }
}

/// How the endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 202, as AWS answers an Event invoke.
    Accept,
    /// 429 `TooManyRequestsException`.
    Throttle,
    /// 500 `ServiceException`.
    Fail,
    /// 202 after this long.
    Slow(Duration),
}

#[derive(Default)]
struct State {
    invocations: Vec<Invocation>,
    answer: Option<Answer>,
}

pub struct FakeLambda {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
}

impl FakeLambda {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let (addr, server) = crate::serve::serve(move |req| answer(shared.clone(), req)).await;
        Self {
            addr,
            state,
            server,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn answer_with(&self, answer: Answer) {
        self.lock().answer = Some(answer);
    }

    pub fn invocations(&self) -> Vec<Invocation> {
        self.lock().invocations.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FakeLambda {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let invocation_type = req
        .headers()
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let payload = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let function = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .map(percent_decode);
    let Some(function) = function else {
        return reply(StatusCode::NOT_FOUND, "ResourceNotFoundException");
    };
    let answer = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        let answer = s.answer.clone().unwrap_or(Answer::Accept);
        if matches!(answer, Answer::Accept | Answer::Slow(_)) {
            s.invocations.push(Invocation {
                function,
                invocation_type,
                payload,
            });
        }
        answer
    };
    match answer {
        Answer::Accept => reply(StatusCode::ACCEPTED, ""),
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            reply(StatusCode::ACCEPTED, "")
        }
        Answer::Throttle => reply(StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException"),
        Answer::Fail => reply(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException"),
    }
}

/// A function name or ARN from the path: SDKs escape its `:` and `$`.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reply(status: StatusCode, error_type: &str) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    let body = if error_type.is_empty() {
        Bytes::new()
    } else {
        builder = builder
            .header("x-amzn-errortype", error_type)
            .header("content-type", "application/json");
        Bytes::from(format!(r#"{{"Type":"User","message":"{error_type}"}}"#))
    };
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
