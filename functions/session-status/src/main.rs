use aws_sdk_dynamodb::Client as DynamoDb;
use session_status::SessionStatusFamily;
use shared::SessionsTable;
use shared::config::process_env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = shared::family::start().await;
    let table = SessionsTable::from_lookup(DynamoDb::new(&aws), &process_env)?;
    shared::family::run(SessionStatusFamily(table)).await
}
