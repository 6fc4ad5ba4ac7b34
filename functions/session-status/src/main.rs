use session_status::SessionStatusFamily;
use shared::family::{run, sessions_table, start};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = start().await;
    run(SessionStatusFamily(sessions_table(&aws)?)).await
}
