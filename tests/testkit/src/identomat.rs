//! A private local Identomat (`scripts/local/identomat_api.py`) on a free loopback port: its
//! sessions set by the test, and what it was asked read back.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub struct IdentomatApi {
    child: Child,
    endpoint: String,
    http: reqwest::Client,
}

impl IdentomatApi {
    /// Starts the stand-in with `company_key`, and `hmac_secret` when signing is on.
    pub async fn start(company_key: &str, hmac_secret: Option<&str>) -> Self {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/local/identomat_api.py");
        let mut command = Command::new(crate::python());
        command
            .arg(script)
            .args(["0", "--company-key", company_key, "--exit-on-stdin-close"]);
        if let Some(secret) = hmac_secret {
            command.args(["--hmac-secret", secret]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scripts/local/identomat_api.py");
        let stdout = child.stdout.take().expect("its stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .strip_prefix("listening on ")
                    .and_then(|p| p.trim().parse::<u16>().ok())
                {
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the local Identomat did not start");
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    /// The company API's base URL, as `IDENTOMAT_API_URL` takes it.
    pub fn api_url(&self) -> String {
        format!("{}/external-api/", self.endpoint)
    }

    /// Adds or replaces sessions: `{"<token>": {"result": "approved", ...}}`.
    pub async fn set_sessions(&self, sessions: Value) {
        let r = self
            .http
            .post(format!("{}/_control/sessions", self.endpoint))
            .json(&sessions)
            .send()
            .await
            .expect("set sessions");
        assert!(r.status().is_success());
    }

    /// Every request so far: `{"method", "session_token", "body", "signed"}`.
    pub async fn requests(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/_control/requests", self.endpoint))
            .send()
            .await
            .expect("read requests")
            .json()
            .await
            .expect("requests are JSON")
    }
}

impl Drop for IdentomatApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
