//! Identomat's `result/`, as far as its public documentation goes
//! (`../shared/reference/identomat-api.md` in the project's notes; docs/operations.md).
//!
//! `POST <api>/result/` with `company_key` and `session_token`, form encoded, optionally signed.
//! The answer is a JSON object full of personal data (`person`, document numbers, images'
//! metadata): only `result` and the *type* of `videoCallStatus` are read, into a [`Reply`]; the
//! body is dropped unlogged. It is bounded in size ([`MAX_RESPONSE_BYTES`]) and the whole call
//! in time ([`REQUEST_TIMEOUT`]).
//!
//! What the platform answers for a session in progress, expired or unknown is not documented:
//! a `result` that is none of the four values the callbacks carry is kept as received by the
//! caller, never mapped; a 404 is read as "not found", and every other failure is an
//! [`ApiError`] with a short reason.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::value::RawValue;
use shared::config::ConfigError;
use shared::fields::SessionId;

use crate::signature::{self, SignatureError};

/// Identomat's one documented production host for the company API.
pub const DEFAULT_API_URL: &str = "https://widget.identomat.com/external-api/";
/// The largest `result/` answer read. Its documented fields are text and numbers (images are
/// separate methods): 4 MiB is far above one and bounds the memory a wrong answer can take.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The whole call, connection, TLS and body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and as whom to ask.
#[derive(Clone)]
pub struct ApiConfig {
    base: url::Url,
    company_key: String,
    hmac_secret: Option<Vec<u8>>,
    timeout: Duration,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("base", &self.base.as_str())
            .field("signed", &self.hmac_secret.is_some())
            .finish_non_exhaustive()
    }
}

impl ApiConfig {
    /// `url` must be https, or plain http to a loopback address (a local stand-in): the company
    /// key never crosses a network in clear.
    pub fn new(
        url: &str,
        company_key: String,
        hmac_secret: Option<String>,
    ) -> Result<Self, ConfigError> {
        let bad = |why: &str| ConfigError::new("IDENTOMAT_API_URL", why.to_owned());
        let mut base = url::Url::parse(url).map_err(|_| bad("not a URL"))?;
        let loopback = match base.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        match base.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(bad("must be https (plain http only to a loopback address)")),
        }
        if base.query().is_some() || base.fragment().is_some() || !base.username().is_empty() {
            return Err(bad("must not carry a query, fragment or user"));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        if company_key.trim().is_empty() {
            return Err(ConfigError::new("IDENTOMAT_COMPANY_KEY", "is empty"));
        }
        Ok(Self {
            base,
            company_key,
            hmac_secret: hmac_secret
                .filter(|s| !s.is_empty())
                .map(String::into_bytes),
            timeout: REQUEST_TIMEOUT,
        })
    }

    /// A shorter bound on the whole call than [`REQUEST_TIMEOUT`] (tests of a slow platform).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// The URL of a method (`result/`, `delete/`).
    pub fn method(&self, name: &str) -> Result<url::Url, ConfigError> {
        self.base
            .join(name)
            .map_err(|_| ConfigError::new("IDENTOMAT_API_URL", "cannot be joined with a method"))
    }

    pub fn signed(&self) -> bool {
        self.hmac_secret.is_some()
    }
}

/// What `result/` said, the little of it that is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub result: RawResult,
    /// The JSON type of `videoCallStatus` when the answer has one (`object`, `string`, ...):
    /// its shape is documented nowhere, so it is noted, not read.
    pub video_call_status: Option<&'static str>,
}

/// The `result` field as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawResult {
    Text(String),
    Null,
    Absent,
    /// A number, an object, ...: named by its JSON type.
    Other(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("the platform answered 404 for the session")]
    NotFound,
    #[error("no answer within {REQUEST_TIMEOUT:?}")]
    Timeout,
    #[error("could not connect")]
    Connect,
    #[error("the request failed on the way")]
    Transport,
    #[error("the platform answered HTTP {0}")]
    Status(u16),
    #[error("the answer is over {MAX_RESPONSE_BYTES} bytes")]
    Oversize,
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("the answer is not a JSON object")]
    NotJson,
    #[error("the platform refused an argument")]
    ArgumentError,
}

impl ApiError {
    /// The short tag the record, the log line and the metric carry.
    pub fn reason(&self) -> String {
        match self {
            ApiError::NotFound => "not-found".into(),
            ApiError::Timeout => "timeout".into(),
            ApiError::Connect => "connect".into(),
            ApiError::Transport => "transport".into(),
            ApiError::Status(code) if *code >= 500 => "http-5xx".into(),
            ApiError::Status(code) => format!("http-{code}"),
            ApiError::Oversize => "oversize".into(),
            ApiError::Signature(SignatureError::Missing) => "signature-missing".into(),
            ApiError::Signature(SignatureError::Wrong) => "signature-wrong".into(),
            ApiError::NotJson => "not-json".into(),
            ApiError::ArgumentError => "argument-error".into(),
        }
    }
}

/// The one question the reconcile function asks: a trait, so its handler can be driven by
/// anything that answers as `result/` does.
pub trait ResultApi {
    fn result(&self, session: &SessionId) -> impl Future<Output = Result<Reply, ApiError>>;
}

/// `result/` over HTTPS.
pub struct IdentomatClient {
    config: ApiConfig,
    result_url: http::Uri,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl IdentomatClient {
    /// One client per process: connections are pooled across sessions of a run. The trust
    /// store is Mozilla's CA set, or the bundle `SSL_CERT_FILE` / `AWS_CA_BUNDLE` names (as
    /// for the AWS calls).
    pub fn new(config: ApiConfig) -> Result<Self, ConfigError> {
        let result_url = config
            .method("result/")?
            .as_str()
            .parse()
            .map_err(|_| ConfigError::new("IDENTOMAT_API_URL", "is not a valid URI"))?;
        let roots = root_store(&|name| std::env::var(name).ok());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|_| ConfigError::new("IDENTOMAT_API_URL", "TLS is unavailable"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Self {
            config,
            result_url,
            client,
        })
    }

    async fn ask(&self, session: &SessionId) -> Result<Reply, ApiError> {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("company_key", &self.config.company_key)
            .append_pair("session_token", session.as_str())
            .finish();
        let mut request = http::Request::post(self.result_url.clone())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::USER_AGENT,
                format!("identomat-callbacks/{}", shared::VERSION),
            );
        if let Some(secret) = &self.config.hmac_secret {
            request = request.header(
                signature::HEADER,
                signature::header_value(secret, body.as_bytes()),
            );
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| ApiError::Transport)?;
        let response = self.client.request(request).await.map_err(|e| {
            if e.is_connect() {
                ApiError::Connect
            } else {
                ApiError::Transport
            }
        })?;
        let status = response.status();
        if status == http::StatusCode::NOT_FOUND {
            return Err(ApiError::NotFound);
        }
        if !status.is_success() {
            return Err(ApiError::Status(status.as_u16()));
        }
        let header = response
            .headers()
            .get(signature::HEADER)
            .map(|v| v.as_bytes().to_vec());
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    ApiError::Oversize
                } else {
                    ApiError::Transport
                }
            })?
            .to_bytes();
        if let Some(secret) = &self.config.hmac_secret {
            signature::verify(secret, &bytes, header.as_deref())?;
        }
        read_reply(&bytes)
    }
}

impl ResultApi for IdentomatClient {
    async fn result(&self, session: &SessionId) -> Result<Reply, ApiError> {
        tokio::time::timeout(self.config.timeout, self.ask(session))
            .await
            .unwrap_or(Err(ApiError::Timeout))
    }
}

/// The two fields read from an answer's body; serde skips every other one without keeping it.
#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(
        borrow,
        default,
        rename = "videoCallStatus",
        deserialize_with = "present"
    )]
    video_call_status: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "argumentError")]
    argument_error: Option<&'a RawValue>,
}

/// A field that is there, `null` included (serde's `Option` reads `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

/// Reads `result` and the type of `videoCallStatus` from a body; nothing else is kept, and no
/// error carries any of the body's text.
pub fn read_reply(bytes: &[u8]) -> Result<Reply, ApiError> {
    // serde reads a struct from an array too: only an object is an answer.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::NotJson);
    }
    let body: Body<'_> = serde_json::from_slice(bytes).map_err(|_| ApiError::NotJson)?;
    let result = match body.result {
        None => RawResult::Absent,
        Some(raw) => match json_type(raw) {
            "string" => RawResult::Text(
                serde_json::from_str::<String>(raw.get()).map_err(|_| ApiError::NotJson)?,
            ),
            "null" => RawResult::Null,
            other => RawResult::Other(other),
        },
    };
    if result == RawResult::Absent && body.argument_error.is_some() {
        return Err(ApiError::ArgumentError);
    }
    Ok(Reply {
        result,
        video_call_status: body.video_call_status.map(json_type),
    })
}

fn json_type(raw: &RawValue) -> &'static str {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'"') => "string",
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b'n') => "null",
        Some(b't' | b'f') => "boolean",
        _ => "number",
    }
}

/// Mozilla's roots, or the bundle the environment names (see `shared::aws::TRUST_OVERRIDES`).
fn root_store(lookup: &impl Fn(&str) -> Option<String>) -> rustls::RootCertStore {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let named = shared::aws::TRUST_OVERRIDES
        .iter()
        .filter_map(|name| lookup(name))
        .filter(|path| !path.trim().is_empty())
        .map(std::path::PathBuf::from);
    let mut store = rustls::RootCertStore::empty();
    if let Some(pem) = shared::aws::find_bundle(named) {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem).flatten().collect();
        let (added, _) = store.add_parsable_certificates(certs);
        if added > 0 {
            return store;
        }
    }
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        let key = || "company".to_owned();
        assert!(ApiConfig::new(DEFAULT_API_URL, key(), None).is_ok());
        for ok in [
            "http://127.0.0.1:8080/external-api/",
            "http://localhost:1/x",
            "http://[::1]:9/",
        ] {
            let config = ApiConfig::new(ok, key(), None).unwrap();
            assert!(
                config
                    .method("result/")
                    .unwrap()
                    .path()
                    .ends_with("/result/")
            );
        }
        for bad in [
            "http://widget.identomat.com/external-api/",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
            "https://user@widget.identomat.com/",
            "https://widget.identomat.com/?x=1",
            "not a url",
        ] {
            assert!(ApiConfig::new(bad, key(), None).is_err(), "{bad}");
        }
        assert!(ApiConfig::new(DEFAULT_API_URL, " ".into(), None).is_err());
        let debug = format!(
            "{:?}",
            ApiConfig::new(DEFAULT_API_URL, "secret-key".into(), Some("hmac".into())).unwrap()
        );
        assert!(!debug.contains("secret-key") && !debug.contains("hmac\""));
    }

    #[test]
    fn reads_result_and_only_the_type_of_video_call_status() {
        let body = br#"{"result":"approved","person":{"first_name":"Nino","personal_number":"01001012345"},"videoCallStatus":{"roomId":"r"}}"#;
        assert_eq!(
            read_reply(body),
            Ok(Reply {
                result: RawResult::Text("approved".into()),
                video_call_status: Some("object"),
            })
        );
        assert_eq!(read_reply(b"{}").unwrap().result, RawResult::Absent);
        assert_eq!(
            read_reply(br#"{"result":null}"#).unwrap().result,
            RawResult::Null
        );
        assert_eq!(
            read_reply(br#"{"result":{"person":"x"}}"#).unwrap().result,
            RawResult::Other("object")
        );
        assert_eq!(
            read_reply(br#"{"result":"in_\u0070rogress"}"#)
                .unwrap()
                .result,
            RawResult::Text("in_progress".into())
        );
        assert_eq!(
            read_reply(br#"{"argumentError":"session_token"}"#),
            Err(ApiError::ArgumentError)
        );
        for junk in [&b"[]"[..], b"", b"<html>", b"\"approved\"", b"{\"result\":"] {
            assert_eq!(read_reply(junk), Err(ApiError::NotJson));
        }
    }

    proptest::proptest! {
        /// No answer panics the reader, and whatever it reads of `result` is only what the
        /// body said there.
        #[test]
        fn no_answer_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = read_reply(&body);
        }

        #[test]
        fn any_object_reads_its_result_and_nothing_else(
            result in "\\PC{0,40}",
            other in "\\PC{0,40}",
        ) {
            let body = serde_json::json!({"person": {"name": other}, "result": result});
            let reply = read_reply(body.to_string().as_bytes()).unwrap();
            proptest::prop_assert_eq!(reply.result, RawResult::Text(result));
            proptest::prop_assert_eq!(reply.video_call_status, None);
        }
    }

    #[test]
    fn errors_say_nothing_of_the_body() {
        let body = br#"{"result":12345678901,"person":"Nino"}"#;
        let reply = read_reply(body).unwrap();
        assert_eq!(reply.result, RawResult::Other("number"));
        assert_eq!(ApiError::Status(503).reason(), "http-5xx");
        assert_eq!(ApiError::Status(401).reason(), "http-401");
    }
}
