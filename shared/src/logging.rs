//! One JSON object per log line, on stdout, where Lambda sends it to CloudWatch. The line per
//! invocation is also a metric (see [`crate::metrics`]).

use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use crate::metrics::{self, EmfLayer};

/// The filter when `RUST_LOG` is unset. The SDK's own logs stay at `warn`: at debug and below
/// they print request bodies, which hold phone numbers and message texts.
pub const DEFAULT_FILTER: &str = "info,aws_config=warn,aws_smithy_runtime=warn";

/// Targets whose lines below `info` hold what no log may: the runtime's trace lines print the
/// raw event (a callback, an envelope), the SDK's and the HTTP and TLS stacks' print request
/// and response bodies (the secret's value, phone numbers, message texts). `RUST_LOG` cannot
/// raise them above `info`.
pub const CAPPED_AT_INFO: [&str; 7] = [
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_smithy_runtime",
    "aws_smithy_http_client",
    "hyper",
    "rustls",
];

/// `RUST_LOG` (`level` or `target=level,...`), else [`DEFAULT_FILTER`], with
/// [`CAPPED_AT_INFO`] held at `info` or below whatever it says. A plain target filter rather
/// than `EnvFilter`: it needs no regex engine, which keeps the binaries smaller.
pub fn filter_from_env() -> Targets {
    filter_from(std::env::var("RUST_LOG").ok().as_deref())
}

/// [`filter_from_env`] for a given `RUST_LOG`.
pub fn filter_from(rust_log: Option<&str>) -> Targets {
    let filter: Targets = rust_log
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(default_filter);
    let mut capped = filter.clone();
    for target in CAPPED_AT_INFO {
        // The level the target has: its own or its nearest parent's, else the default.
        let own = filter
            .iter()
            .filter(|(t, _)| target.starts_with(t))
            .max_by_key(|(t, _)| t.len())
            .map(|(_, level)| level)
            .or(filter.default_level())
            .unwrap_or(LevelFilter::OFF);
        capped = capped.with_target(target, own.min(LevelFilter::INFO));
        // And any of its modules named on their own (`hyper::client=trace`).
        for (t, level) in filter.iter().filter(|(t, _)| t.starts_with(target)) {
            capped = capped.with_target(t, level.min(LevelFilter::INFO));
        }
    }
    capped
}

pub fn default_filter() -> Targets {
    DEFAULT_FILTER.parse().unwrap_or_default()
}

/// The subscriber every function logs through; tests give it a buffer as `writer`. `filter`
/// applies to ordinary lines; the invocation lines carry the metrics, so no level hides them.
pub fn json_subscriber<W>(
    writer: W,
    filter: Targets,
    namespace: &str,
) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    let lines = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(writer.clone())
        .with_filter(filter.with_target(metrics::TARGET, LevelFilter::OFF));
    let invocations = EmfLayer::new(namespace, writer)
        .with_filter(Targets::new().with_target(metrics::TARGET, LevelFilter::TRACE));
    tracing_subscriber::registry().with(lines).with(invocations)
}

/// Installs [`json_subscriber`] on stdout for the process; `RUST_LOG` overrides the level and
/// `METRICS_NAMESPACE` names the metrics' namespace.
pub fn init() {
    let filter = filter_from_env();
    let namespace = std::env::var("METRICS_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| metrics::DEFAULT_NAMESPACE.to_owned());
    // A second call keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(json_subscriber(
        std::io::stdout,
        filter,
        &namespace,
    ));
    // Once per cold start: which version this instance runs.
    tracing::info!(version = crate::VERSION, "start");
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_cannot_raise_the_targets_that_print_bodies() {
        for rust_log in [
            "trace",
            "debug",
            "info,lambda_runtime=trace,hyper=debug",
            "rustls=trace",
        ] {
            let filter = filter_from(Some(rust_log));
            for target in CAPPED_AT_INFO {
                let sub = format!("{target}::layer");
                for t in [target, sub.as_str()] {
                    assert!(!filter.would_enable(t, &Level::DEBUG), "{rust_log}: {t}");
                }
            }
        }
        let filter = filter_from(Some("debug"));
        assert!(filter.would_enable("shared::store", &Level::DEBUG));
        assert!(filter.would_enable("lambda_runtime", &Level::INFO));
        // Lowering them is still allowed.
        let quiet = filter_from(Some("info,hyper=off"));
        assert!(!quiet.would_enable("hyper", &Level::INFO));
        assert!(!filter_from(None).would_enable("aws_smithy_runtime", &Level::INFO));
    }
}
