//! The test harness: a private moto server on a free loopback port, SDK configuration pointed at
//! it, and what it recorded.
//!
//! Each [`Moto`] is its own server process, so tests that run in parallel never see each other's
//! messages or tables. The server ends when the `Moto` is dropped, and also when the test
//! process dies without dropping it: it watches its stdin, a pipe whose other end only the test
//! process holds.

pub mod fault;
pub mod identomat;
pub mod lambda;
pub mod logs;
pub mod proxy;
pub mod samples;
mod serve;
pub mod stream;

pub use fault::{FaultyEndpoint, query_error, query_error_saying};
pub use lambda::{Answer, FakeLambda, Invocation};
pub use logs::Captured;
pub use proxy::{Call, Fault, FaultProxy};

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use serde::Deserialize;
use serde_json::Value;

pub const REGION: &str = "us-east-1";

/// The settings a deployment must choose, as a test deployment chooses them: SMS to every
/// geographic region (`SMS_ALLOWED_COUNTRIES=*`); everything else at its default.
pub fn required_settings(name: &str) -> Option<String> {
    (name == "SMS_ALLOWED_COUNTRIES").then(|| "*".to_owned())
}

const INSTALL_HINT: &str = "moto is not installed: run `make venv` (or `pip install 'moto[server]'` \
     and set MOTO_PYTHON to that python)";

/// Python that runs moto's server one request at a time (see the script for why).
const LAUNCHER: &str = include_str!("../../../scripts/local/moto_server.py");

pub struct Moto {
    child: Child,
    endpoint: String,
    http: reqwest::Client,
}

/// An SMS as moto recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SentSms {
    pub phone_number: String,
    pub message: String,
    pub message_id: String,
}

/// An e-mail as moto recorded it. With both a text and an HTML part, `body` is the HTML part.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SentEmail {
    pub id: String,
    pub source: String,
    pub subject: String,
    pub body: String,
    pub destinations: Destinations,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Destinations {
    pub to_addresses: Vec<String>,
    pub cc_addresses: Vec<String>,
    pub bcc_addresses: Vec<String>,
}

/// The Python that has moto: `MOTO_PYTHON`, else the checkout's `.venv`, else `python3`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if venv.exists() {
        return venv;
    }
    "python3".into()
}

impl Moto {
    /// Starts a server and waits until it answers. Panics with one line saying how to install
    /// moto when it is missing: the test cannot mean anything without it.
    pub async fn start() -> Self {
        let mut child = Command::new(python())
            .args(["-c", LAUNCHER, "0", "--exit-on-stdin-close"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{INSTALL_HINT} ({e})"));
        let port = read_port(&mut child);
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{INSTALL_HINT}");
        };
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        moto.wait_until_ready().await;
        moto
    }

    async fn wait_until_ready(&self) {
        for _ in 0..200 {
            let url = format!("{}/moto-api/", self.endpoint);
            if let Ok(r) = self.http.get(url).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "moto server at {} did not answer within 10 s",
            self.endpoint
        );
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// SDK configuration for this server: static test credentials, one region, no retries of
    /// the SDK's own (a test that needs retries sets them).
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(
                "testing", "testing", None, None, "testkit",
            ))
            .load()
            .await
    }

    /// Forgets everything: messages, tables, identities, secrets.
    pub async fn reset(&self) {
        let url = format!("{}/moto-api/reset", self.endpoint);
        let status = self.http.post(url).send().await.map(|r| r.status());
        assert!(
            matches!(status, Ok(s) if s.is_success()),
            "moto reset failed: {status:?}"
        );
    }

    /// Everything moto holds, as `GET /moto-api/data.json` returns it.
    pub async fn data(&self) -> Value {
        let url = format!("{}/moto-api/data.json", self.endpoint);
        let response = self.http.get(url).send().await.expect("moto data.json");
        response.json().await.expect("moto data.json is JSON")
    }

    /// The SMS published through SNS, oldest first.
    pub async fn sms(&self) -> Vec<SentSms> {
        let data = self.data().await;
        serde_json::from_value(data["sns"]["SMS"].clone()).unwrap_or_default()
    }

    /// The e-mails sent through SES, oldest first.
    pub async fn emails(&self) -> Vec<SentEmail> {
        let data = self.data().await;
        serde_json::from_value(data["ses"]["Message"].clone()).unwrap_or_default()
    }
}

/// The sessions table's schema as `template.yaml` defines it (read by `scripts/local/template.py`,
/// the one reader of the template), so tests create the table the stack creates.
pub fn sessions_table_schema() -> &'static Value {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new(python())
            .arg(root.join("scripts/local/template.py"))
            .arg("table-schema")
            .output()
            .unwrap_or_else(|e| panic!("{INSTALL_HINT} ({e})"));
        assert!(
            out.status.success(),
            "scripts/local/template.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the table schema is JSON")
    })
}

/// Creates `name` with the schema of the template's `SessionsTable`.
pub async fn create_sessions_table(config: &SdkConfig, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    };
    let schema = sessions_table_schema();
    let text = |v: &Value, name: &str| v[name].as_str().expect(name).to_owned();
    let mut request = aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(text(schema, "BillingMode").as_str()));
    for a in schema["AttributeDefinitions"]
        .as_array()
        .expect("attributes")
    {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(a, "AttributeName"))
                .attribute_type(ScalarAttributeType::from(text(a, "AttributeType").as_str()))
                .build()
                .expect("attribute definition"),
        );
    }
    let keys = |schema: &Value| -> Vec<KeySchemaElement> {
        schema["KeySchema"]
            .as_array()
            .expect("key schema")
            .iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(text(k, "AttributeName"))
                    .key_type(KeyType::from(text(k, "KeyType").as_str()))
                    .build()
                    .expect("key schema element")
            })
            .collect()
    };
    request = request.set_key_schema(Some(keys(schema)));
    // The reconcile function's sparse index, as a deployment with a company key has it.
    for index in schema["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(index, "IndexName"))
                .set_key_schema(Some(keys(index)))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            index["Projection"]["ProjectionType"]
                                .as_str()
                                .expect("projection"),
                        ))
                        .build(),
                )
                .build()
                .expect("index"),
        );
    }
    if let Some(stream) = schema.get("StreamSpecification") {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(
                    text(stream, "StreamViewType").as_str(),
                ))
                .build()
                .expect("stream specification"),
        );
    }
    request.send().await.expect("create sessions table");
}

/// Every item of a table, as moto holds them: every page of the scan (one holds at most 1 MB,
/// as in DynamoDB).
pub async fn scan_table(
    config: &SdkConfig,
    name: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let client = aws_sdk_dynamodb::Client::new(config);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(name)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return items,
        }
    }
}

/// A DynamoDB item as the SDK returns it.
pub type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// The string attribute `name` of `item`; panics, naming it, when it is absent or not a string.
pub fn text(item: &Item, name: &str) -> String {
    match item.get(name).map(|v| v.as_s()) {
        Some(Ok(value)) => value.clone(),
        _ => panic!("no string attribute {name} in {item:?}"),
    }
}

/// The `delivery#` records of one session.
pub async fn delivery_records(config: &SdkConfig, table: &str, session_id: &str) -> Vec<Item> {
    query_session(config, table, session_id)
        .await
        .into_iter()
        .filter(|i| {
            i.get("record")
                .and_then(|r| r.as_s().ok())
                .is_some_and(|r| r.starts_with("delivery#"))
        })
        .collect()
}

/// Every record of one session, sorted by `record`: what `aws dynamodb query` returns.
pub async fn query_session(config: &SdkConfig, table: &str, session_id: &str) -> Vec<Item> {
    aws_sdk_dynamodb::Client::new(config)
        .query()
        .table_name(table)
        .key_condition_expression("sessionId = :s")
        .expression_attribute_values(
            ":s",
            aws_sdk_dynamodb::types::AttributeValue::S(session_id.to_owned()),
        )
        .consistent_read(true)
        .send()
        .await
        .expect("query")
        .items
        .unwrap_or_default()
}

/// A reproducible shuffle (xorshift), so a failing order can be replayed from its seed.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// Reads the server's log until it names its port; keeps draining it afterwards so the server
/// never blocks on a full pipe.
fn read_port(child: &mut Child) -> Option<u16> {
    let stderr = child.stderr.take()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(port) = line
                .split_once("Running on http://127.0.0.1:")
                .and_then(|(_, rest)| rest.trim().parse::<u16>().ok())
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(port);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).ok()
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
