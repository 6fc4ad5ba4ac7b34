//! The sms family's log line: masked recipient and session fingerprint, never the number, the
//! text or the session id. A test binary of its own: tracing's interest cache is process-wide.

use shared::SessionsTable;
use sms::{SmsConfig, SmsFamily};
use testkit::{Captured, Moto};

#[tokio::test]
async fn one_line_per_outcome_with_masked_values() {
    let logs = Captured::default();
    let _guard = logs.install();
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    testkit::create_sessions_table(&aws, "sessions").await;
    let family = SmsFamily {
        sns: aws_sdk_sns::Client::new(&aws),
        table: SessionsTable::new(aws_sdk_dynamodb::Client::new(&aws), "sessions"),
        config: SmsConfig::from_lookup(&testkit::required_settings).expect("the defaults"),
    };
    let envelope = testkit::samples::envelope("share-session-link-via-sms", "req-1");
    family.handle(&envelope).await.unwrap();
    family.handle(&envelope).await.unwrap();
    let misrouted = testkit::samples::envelope("session-change", "req-2");
    assert!(family.handle(&misrouted).await.is_err());

    let lines: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|l| l["message"] == "callback")
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["outcome"], "sent");
    assert_eq!(lines[1]["outcome"], "deduplicated");
    // Each line counts its outcome for CloudWatch; an error also says its kind.
    assert_eq!(
        (&lines[0]["function"], &lines[0]["Sent"]),
        (&"sms".into(), &1.into())
    );
    assert_eq!(lines[1]["Deduplicated"], 1);
    assert_eq!(
        lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "Sent"
    );
    assert_eq!(
        (
            &lines[2]["outcome"],
            &lines[2]["reason"],
            &lines[2]["Error"]
        ),
        (&"error".into(), &"misrouted".into(), &1.into())
    );
    assert_eq!(lines[2]["level"], "ERROR");
    assert_eq!(lines[0]["recipient"], "+9955*****78");
    assert_eq!(lines[0]["session"].as_str().unwrap().len(), 12);
    let text = logs.text();
    for secret in [
        "995512345678",
        "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp",
        "Hello John",
    ] {
        assert!(!text.contains(secret), "{secret} in logs:\n{text}");
    }
}
