use aws_sdk_ses::Client as Ses;
use email::EmailFamily;
use shared::aws::for_sending;
use shared::config::process_env;
use shared::family::{run, sessions_table, start};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = start().await;
    let ses = Ses::new(&for_sending(&aws));
    run(EmailFamily::new(ses, sessions_table(&aws)?, &process_env)?).await
}
