use aws_sdk_dynamodb::Client as DynamoDb;
use shared::SessionsTable;
use shared::config::process_env;
use video_call::VideoCallFamily;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = shared::family::start().await;
    let table = SessionsTable::from_lookup(DynamoDb::new(&aws), &process_env)?;
    shared::family::run(VideoCallFamily(table)).await
}
