//! The family's log line. A test binary of its own: tracing's interest cache is process-wide,
//! and other tests' threads must not race this one's subscriber.

use shared::callback::{SessionChange, SessionResult, SessionType};
use shared::fields::SessionId;
use shared::{Callback, Envelope, SessionsTable, Timestamp};
use testkit::Moto;

#[tokio::test]
async fn one_log_line_per_invocation_without_the_session_id() {
    let logs = testkit::Captured::default();
    let _guard = logs.install();
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    testkit::create_sessions_table(&aws, "sessions").await;
    let table = SessionsTable::new(aws_sdk_dynamodb::Client::new(&aws), "sessions");
    let e = Envelope {
        request_id: "req-1".into(),
        received_at: Timestamp::from_unix_millis(1_000),
        callback: Callback::SessionChange(SessionChange {
            session_id: SessionId::parse("ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp").unwrap(),
            result: SessionResult::Approved,
            session_type: SessionType::Kyc,
        }),
    };
    session_status::handle(&table, &e).await.unwrap();
    session_status::handle(&table, &e).await.unwrap();
    let lines: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|l| l["message"] == "callback")
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["outcome"], "updated");
    assert_eq!(lines[1]["outcome"], "duplicate");
    assert_eq!(lines[0]["requestId"], "req-1");
    assert_eq!(lines[0]["type"], "session-change");
    assert_eq!(lines[0]["session"].as_str().unwrap().len(), 12);
    assert!(
        !logs
            .text()
            .contains("ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp")
    );
}
