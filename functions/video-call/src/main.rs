use shared::family::{run, sessions_table, start};
use video_call::VideoCallFamily;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let aws = start().await;
    run(VideoCallFamily(sessions_table(&aws)?)).await
}
