use aws_sdk_dynamodb::Client as DynamoDb;
use aws_sdk_ses::Client as Ses;
use email::EmailFamily;
use shared::SessionsTable;
use shared::config::process_env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = shared::family::start().await;
    let table = SessionsTable::from_lookup(DynamoDb::new(&aws), &process_env)?;
    shared::family::run(EmailFamily::new(Ses::new(&aws), table, &process_env)?).await
}
