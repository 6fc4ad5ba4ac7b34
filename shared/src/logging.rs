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

/// `RUST_LOG` (`level` or `target=level,...`), else [`DEFAULT_FILTER`]. A plain target filter
/// rather than `EnvFilter`: it needs no regex engine, which keeps the binaries smaller.
pub fn filter_from_env() -> Targets {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(default_filter)
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
