//! The TLS floor for the Lambda bench: the smallest function that makes one AWS call per
//! invocation (DynamoDB `ListTables`) over the same TLS stack, trust store and SDK settings as
//! ours, so that what a TLS handshake and the SDK cost at a slice of a core is measured apart.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&shared::aws::load_config().await);
    let dynamodb = &dynamodb;
    run(service_fn(move |_: LambdaEvent<Value>| async move {
        let tables = dynamodb.list_tables().limit(1).send().await?;
        Ok::<Value, Error>(json!({ "tables": tables.table_names().len() }))
    }))
    .await
}
