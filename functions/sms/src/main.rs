use identomat::config::process_env;
use identomat::{Envelope, SessionsTable};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};
use sms::{SmsConfig, SmsFamily};

#[tokio::main]
async fn main() -> Result<(), Error> {
    identomat::logging::init();
    let aws = identomat::aws::load_config().await;
    let family = SmsFamily {
        sns: aws_sdk_sns::Client::new(&aws),
        table: SessionsTable::from_lookup(aws_sdk_dynamodb::Client::new(&aws), &process_env)?,
        config: SmsConfig::from_lookup(&process_env)?,
    };
    let family = &family;
    run(service_fn(move |event: LambdaEvent<Envelope>| async move {
        let outcome = family.handle(&event.payload).await?;
        Ok::<Value, Error>(json!({ "outcome": outcome.name() }))
    }))
    .await
}
