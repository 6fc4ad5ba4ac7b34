//! A loopback endpoint that answers every request with one fixed fault, for the error paths of
//! SNS, SES and DynamoDB clients: throttling, 5xx, a permanent refusal, or a stall.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use tokio::task::JoinHandle;

pub struct FaultyEndpoint {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    server: JoinHandle<()>,
}

/// An AWS query-protocol (SNS, SES) error document whose message is its code.
pub fn query_error(code: &str) -> String {
    query_error_saying(code, code)
}

/// An AWS query-protocol (SNS, SES) error document.
pub fn query_error_saying(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>\
         <Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
    )
}

impl FaultyEndpoint {
    /// Answers `status` with `body` (XML) after `delay`.
    pub async fn answering(status: u16, body: String, delay: Duration) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let body = Bytes::from(body);
        let (addr, server) = crate::serve::serve(move |_request| {
            let (counter, body) = (counter.clone(), body.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                Response::builder()
                    .status(status)
                    .header("content-type", "text/xml")
                    .body(Full::new(body))
                    .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
            }
        })
        .await;
        Self { addr, hits, server }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests reached it.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for FaultyEndpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}
