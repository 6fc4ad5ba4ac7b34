//! A loopback endpoint that answers every request with one fixed fault, for the error paths of
//! SNS, SES and DynamoDB clients: throttling, 5xx, a permanent refusal, or a stall.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub struct FaultyEndpoint {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    server: JoinHandle<()>,
}

/// An AWS query-protocol (SNS, SES) error document.
pub fn query_error(code: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>\
         <Message>{code}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
    )
}

impl FaultyEndpoint {
    /// Answers `status` with `body` (XML) after `delay`.
    pub async fn answering(status: u16, body: String, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let body = Bytes::from(body);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (counter, body) = (counter.clone(), body.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |_req| {
                        let (counter, body) = (counter.clone(), body.clone());
                        async move {
                            counter.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(delay).await;
                            let response = Response::builder()
                                .status(status)
                                .header("content-type", "text/xml")
                                .body(Full::new(body))
                                .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())));
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
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
