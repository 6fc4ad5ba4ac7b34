use identomat::config::process_env;
use identomat::{Envelope, SessionsTable};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    identomat::logging::init();
    let aws = identomat::aws::load_config().await;
    let table = SessionsTable::from_lookup(aws_sdk_dynamodb::Client::new(&aws), &process_env)?;
    let table = &table;
    run(service_fn(move |event: LambdaEvent<Envelope>| async move {
        let outcome = session_status::handle(table, &event.payload).await?;
        Ok::<Value, Error>(json!({ "outcome": outcome.name() }))
    }))
    .await
}
