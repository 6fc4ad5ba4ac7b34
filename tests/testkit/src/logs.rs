//! Log capture: production's JSON subscriber, writing into a buffer a test can read.

use std::sync::{Arc, Mutex};

/// Captures the JSON log lines written through production's subscriber on this thread.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("log buffer").clone()).expect("UTF-8 logs")
    }

    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each log line is JSON"))
            .collect()
    }

    /// Installs production's subscriber, writing here, for the current thread.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let filter = shared::logging::default_filter();
        tracing::subscriber::set_default(shared::logging::json_subscriber(
            move || writer.clone(),
            filter,
            shared::metrics::DEFAULT_NAMESPACE,
        ))
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
