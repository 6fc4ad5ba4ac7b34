use aws_sdk_sns::Client as Sns;
use shared::aws::for_sending;
use shared::config::process_env;
use shared::family::{run, sessions_table, start};
use sms::SmsFamily;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = start().await;
    let sns = Sns::new(&for_sending(&aws));
    run(SmsFamily::new(sns, sessions_table(&aws)?, &process_env)?).await
}
