use notify::bus::EventBridge;
use notify::{NotifyConfig, run};
use shared::config::process_env;
use shared::family::start;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = start().await;
    let config = NotifyConfig::from_lookup(&process_env)?;
    let client = aws_sdk_eventbridge::Client::new(&aws);
    run(EventBridge::new(client, config.bus_name, config.source)).await
}
