use aws_sdk_dynamodb::Client as DynamoDb;
use aws_sdk_sns::Client as Sns;
use shared::SessionsTable;
use shared::config::process_env;
use sms::SmsFamily;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = shared::family::start().await;
    let table = SessionsTable::from_lookup(DynamoDb::new(&aws), &process_env)?;
    shared::family::run(SmsFamily::new(Sns::new(&aws), table, &process_env)?).await
}
