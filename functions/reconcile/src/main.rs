use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use reconcile::identomat::{ApiConfig, DEFAULT_API_URL, IdentomatClient};
use reconcile::{ReconcileConfig, Reconciler, credentials};
use serde_json::Value;
use shared::config::{optional, process_env};
use shared::family::{sessions_table, start};

/// The invocation's deadline, as Lambda gives it; one already past when the invocation starts
/// is an emulator's (cargo lambda's is in the wrong unit): five minutes from now instead.
fn run_deadline(deadline: std::time::SystemTime) -> std::time::SystemTime {
    let now = std::time::SystemTime::now();
    if deadline > now {
        deadline
    } else {
        now + Duration::from_secs(300)
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = start().await;
    let keys = credentials(&aws, &process_env).await?;
    let url = optional(&process_env, "IDENTOMAT_API_URL").unwrap_or_else(|| DEFAULT_API_URL.into());
    let api = IdentomatClient::new(ApiConfig::new(
        &url,
        keys.company_key,
        Some(keys.hmac_secret),
    )?)?;
    let reconciler = Reconciler {
        table: sessions_table(&aws)?,
        api,
        config: ReconcileConfig::from_lookup(&process_env)?,
    };
    let reconciler = &reconciler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = run_deadline(event.context.deadline());
        let time_left = move || {
            deadline
                .duration_since(std::time::SystemTime::now())
                .unwrap_or(Duration::ZERO)
        };
        let answer = reconciler
            .invoke(event.payload, &event.context.request_id, time_left)
            .await?;
        Ok::<Value, lambda_runtime::Error>(answer)
    }))
    .await
}
