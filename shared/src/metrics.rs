//! CloudWatch metrics without an API call. Each invocation's log line (target [`TARGET`]) is
//! written as a CloudWatch Embedded Metric Format document: CloudWatch Logs turns it into a
//! count, so one line serves both the operator reading logs and the alarm counting outcomes,
//! and no invocation waits on a `PutMetricData`.
//!
//! The line's `outcome` names the metric (`handoff-failed` counts as `HandoffFailed`), its
//! `function` is the dimension, and a non-empty `reason` adds a `function, reason` breakdown.
//! The metric counts 1, or the line's `billed` when it has one: a message sent or suppressed
//! counts as its SMS parts or e-mail recipients, what the provider bills.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

/// The tracing target of the one line per invocation.
pub const TARGET: &str = "emf";

/// The metrics also counted by `function, reason, type`.
pub const BY_TYPE: &[&str] = &["Rejected"];

/// The namespace when `METRICS_NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "IdentomatCallbacks";

/// Writes every event of [`TARGET`] as one EMF JSON line.
pub struct EmfLayer<W> {
    namespace: String,
    writer: W,
}

impl<W> EmfLayer<W> {
    pub fn new(namespace: impl Into<String>, writer: W) -> Self {
        Self {
            namespace: namespace.into(),
            writer,
        }
    }
}

impl<S, W> Layer<S> for EmfLayer<W>
where
    S: Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let now = SystemTime::now();
        let line = document(&self.namespace, *event.metadata().level(), fields.0, now);
        #[cfg(debug_assertions)]
        if let Some(metric) = emitted(&line) {
            assert!(
                catalogue::lists(&metric),
                "{metric:?} is not in shared/metrics.json: add it there (and to the docs)"
            );
        }
        let Ok(mut bytes) = serde_json::to_vec(&line) else {
            return;
        };
        bytes.push(b'\n');
        // One write per line, so concurrent invocations cannot interleave inside a line.
        let _ = self.writer.make_writer().write_all(&bytes);
    }
}

/// The line for one invocation: its fields, a timestamp and level like the other log lines,
/// and the `_aws` metadata with a count (1, or `billed`) when it names a function and an
/// outcome.
pub fn document(
    namespace: &str,
    level: Level,
    fields: Map<String, Value>,
    now: SystemTime,
) -> Value {
    let mut line = Map::new();
    line.insert(
        "timestamp".into(),
        humantime::format_rfc3339_micros(now).to_string().into(),
    );
    line.insert("level".into(), level.as_str().into());
    line.extend(fields);
    let text = |name: &str| line.get(name).and_then(Value::as_str).unwrap_or_default();
    let (function, outcome, reason) = (text("function"), text("outcome"), text("reason"));
    if function.is_empty() || outcome.is_empty() {
        return Value::Object(line);
    }
    let metric = metric_name(outcome);
    let mut dimensions = vec![json!(["function"])];
    if !reason.is_empty() {
        dimensions.push(json!(["function", "reason"]));
    }
    // A refusal by callback type too, so the operator sees which type the platform changed;
    // only known type names reach this line's `type`, so the metric's series stay few.
    if BY_TYPE.contains(&metric.as_str()) && !text("type").is_empty() {
        dimensions.push(json!(["function", "reason", "type"]));
    }
    let millis = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": millis,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimensions,
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        }),
    );
    let count = line
        .get("billed")
        .and_then(Value::as_u64)
        .filter(|billed| *billed > 0)
        .unwrap_or(1);
    line.insert(metric, count.into());
    Value::Object(line)
}

/// A metric as a line emits it: the function, the metric's name and the reason (empty when
/// the line has none, and so no `function, reason` breakdown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    pub function: String,
    pub metric: String,
    pub reason: String,
}

/// The metric a [`document`] carries, if it carries one.
pub fn emitted(line: &Value) -> Option<Emitted> {
    let text = |name: &str| line.get(name).and_then(Value::as_str).unwrap_or_default();
    line.get("_aws")?;
    Some(Emitted {
        function: text("function").to_owned(),
        metric: metric_name(text("outcome")),
        reason: text("reason").to_owned(),
    })
}

/// `shared/metrics.json`: every metric and reason the functions emit, the one list the alarms,
/// the dashboard and the docs are checked against. Debug builds (every test, the local stacks)
/// refuse to emit anything it does not list.
#[cfg(debug_assertions)]
pub mod catalogue {
    use std::collections::BTreeMap;
    use std::sync::OnceLock;

    use super::Emitted;

    pub const JSON: &str = include_str!("../metrics.json");

    /// Function -> metric -> reasons; `*` stands for the provider's error code.
    pub type Catalogue = BTreeMap<String, BTreeMap<String, Vec<String>>>;

    pub fn read() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| {
            let value: serde_json::Value =
                serde_json::from_str(JSON).expect("shared/metrics.json is JSON");
            serde_json::from_value(value["functions"].clone())
                .expect("shared/metrics.json: functions -> metric -> [reasons]")
        })
    }

    /// Whether the catalogue lists this metric of this function, with this reason.
    pub fn lists(metric: &Emitted) -> bool {
        let Some(reasons) = read()
            .get(&metric.function)
            .and_then(|metrics| metrics.get(&metric.metric))
        else {
            return false;
        };
        metric.reason.is_empty() || reasons.iter().any(|r| r == "*" || *r == metric.reason)
    }
}

/// `handoff-failed` -> `HandoffFailed`.
pub fn metric_name(outcome: &str) -> String {
    outcome
        .split(['-', '_'])
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
        })
        .collect()
}

/// An event's fields as JSON values, as the JSON log formatter writes them.
#[derive(Default)]
struct EventFields(Map<String, Value>);

impl Visit for EventFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        self.0.insert(field.name().into(), value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect()
    }

    #[test]
    fn outcomes_name_metrics() {
        assert_eq!(metric_name("handoff-failed"), "HandoffFailed");
        assert_eq!(metric_name("sent"), "Sent");
        assert_eq!(metric_name("stored-unhandled"), "StoredUnhandled");
    }

    #[test]
    fn a_reason_adds_a_breakdown() {
        let at = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        let line = document(
            "Acme",
            Level::INFO,
            fields(&[
                ("message", "callback"),
                ("function", "ingress"),
                ("outcome", "rejected"),
                ("reason", "key-wrong"),
            ]),
            at,
        );
        assert_eq!(line["Rejected"], 1);
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["timestamp"], "2023-11-14T22:13:20.123000Z");
        let aws = &line["_aws"];
        assert_eq!(aws["Timestamp"], 1_700_000_000_123_u64);
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Acme");
        assert_eq!(
            directive["Dimensions"],
            json!([["function"], ["function", "reason"]])
        );
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Rejected", "Unit": "Count"}])
        );
    }

    #[test]
    fn a_message_counts_what_it_is_billed_as() {
        let mut three_parts = fields(&[("function", "sms"), ("outcome", "sent")]);
        three_parts.insert("billed".into(), 3.into());
        let line = document("Acme", Level::INFO, three_parts, SystemTime::now());
        assert_eq!(line["Sent"], 3);
        // Nothing billed is still one invocation's outcome.
        let mut zero = fields(&[("function", "email"), ("outcome", "deduplicated")]);
        zero.insert("billed".into(), 0.into());
        let line = document("Acme", Level::INFO, zero, SystemTime::now());
        assert_eq!(line["Deduplicated"], 1);
    }

    #[test]
    fn no_reason_no_breakdown_and_no_outcome_no_metric() {
        let line = document(
            "Acme",
            Level::INFO,
            fields(&[("function", "sms"), ("outcome", "sent"), ("reason", "")]),
            SystemTime::now(),
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["function"]])
        );
        let plain = document(
            "Acme",
            Level::WARN,
            fields(&[("function", "sms")]),
            SystemTime::now(),
        );
        assert!(plain.get("_aws").is_none());
        assert_eq!(plain["function"], "sms");
    }
}
