use aws_lambda_events::dynamodb;
use lambda_runtime::{LambdaEvent, service_fn};
use notify::bus::EventBridge;
use notify::{NotifyConfig, handle, log_batch};
use shared::config::process_env;
use shared::family::start;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = start().await;
    let config = NotifyConfig::from_lookup(&process_env)?;
    let bus = &EventBridge::new(
        aws_sdk_eventbridge::Client::new(&aws),
        config.bus_name,
        config.source,
    );
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<dynamodb::Event>| async move {
            let started = std::time::Instant::now();
            let (response, summary) = handle(bus, &event.payload).await;
            log_batch(&summary, started);
            Ok::<_, lambda_runtime::Error>(response)
        },
    ))
    .await
}
