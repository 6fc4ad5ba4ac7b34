use lambda_runtime::{LambdaEvent, service_fn};
use receipts::Receipts;
use serde_json::Value;
use shared::family::{sessions_table, start};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = start().await;
    let receipts = Receipts {
        table: sessions_table(&aws)?,
    };
    let receipts = &receipts;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, lambda_runtime::Error>(receipts.invoke(event.payload).await?)
    }))
    .await
}
