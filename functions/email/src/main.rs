use email::{EmailConfig, EmailFamily};
use identomat::config::process_env;
use identomat::{Envelope, SessionsTable};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    identomat::logging::init();
    let aws = identomat::aws::load_config().await;
    let family = EmailFamily {
        ses: aws_sdk_ses::Client::new(&aws),
        table: SessionsTable::from_lookup(aws_sdk_dynamodb::Client::new(&aws), &process_env)?,
        config: EmailConfig::from_lookup(&process_env)?,
    };
    let family = &family;
    run(service_fn(move |event: LambdaEvent<Envelope>| async move {
        let outcome = family.handle(&event.payload).await?;
        Ok::<Value, Error>(json!({ "outcome": outcome.name() }))
    }))
    .await
}
