//! Each reference sample posted to the Callback URL ends as the right SMS, e-mail or record in
//! moto; a wrong key ends nowhere.

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::{SENDER, System, TABLE};
use serde_json::json;

fn s(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    item[name].as_s().cloned().unwrap_or_default()
}

#[tokio::test]
async fn every_sample_ends_where_it_should() {
    let system = System::start().await;
    for name in testkit::samples::names() {
        let name = name.as_str();
        let response = system.post(&testkit::samples::bytes(name)).await;
        assert_eq!(response.status(), 202, "{name}");
    }
    let outcomes = system.run_families().await;
    // In the order of events/callbacks/.
    let expected = [
        ("email", "sent"),
        ("sms", "sent"),
        ("session-status", "updated"),
        ("session-status", "updated"),
        ("email", "sent"),
        ("sms", "sent"),
        ("video-call", "updated"),
        ("video-call", "updated"),
    ];
    let outcomes: Vec<(&str, &str)> = outcomes
        .iter()
        .map(|(f, o)| (f.as_str(), o.as_str()))
        .collect();
    assert_eq!(outcomes, expected);

    let sms = system.moto.sms().await;
    let sms: Vec<(&str, &str)> = sms
        .iter()
        .map(|m| (m.phone_number.as_str(), m.message.as_str()))
        .collect();
    assert_eq!(
        sms,
        [
            ("+995512345678", "Your code is 6867"),
            (
                "+995512345678",
                "Hello John Doe, please complete your verification using the link below.\n\
                 https://widget.identomat.com/?session_token=ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp"
            ),
        ]
    );

    let emails = system.moto.emails().await;
    assert_eq!(emails.len(), 2);
    assert_eq!(emails[1].source, SENDER);
    assert_eq!(emails[1].subject, "Verification Required");
    assert_eq!(
        emails[1].destinations.to_addresses,
        ["john.doe@example.com"]
    );
    assert_eq!(emails[1].destinations.cc_addresses, ["support@example.com"]);
    assert!(
        emails[1]
            .body
            .contains("session_token=5alhw0070l2gy82q0mqlfniv7gwgbqqs0rtctolg")
    );
    assert_eq!(emails[0].subject, "Mail Verification");
    assert!(emails[0].body.contains("Your code is 6867"));

    let status = |session: &'static str| {
        let aws = system.aws.clone();
        async move { testkit::query_session(&aws, TABLE, session).await }
    };
    let kyc = status("ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp").await;
    let kyc_status = kyc
        .iter()
        .find(|i| s(i, "record") == "status")
        .expect("status record");
    assert_eq!(
        (s(kyc_status, "result"), s(kyc_status, "sessionType")),
        ("APPROVED".into(), "kyc".into())
    );
    let kyb = status("65lfvkv1t2o25ozimqu3nh797umb1ydvkpltl3ib").await;
    assert_eq!(s(&kyb[0], "sessionType"), "kyb");
    let room = status("ypsgyus3mosob3tugu3emgekqjykam5nvue1z1fu").await;
    assert_eq!(
        s(&room[0], "record"),
        "video#RMc7eb8093d2461af50834f69e86692db3"
    );
    assert_eq!(
        s(&room[0], "videoFileId"),
        "hwenFYGlG54kRjmSruy3kxg54zV2pNPwHimseYao"
    );
    let empty = status("wtmfcr7tcj4q04co8mdg8yryou9glrcr2tbzm016").await;
    assert_eq!(s(&empty[0], "roomStatus"), "empty");
}

#[tokio::test]
async fn a_wrong_key_ends_nowhere() {
    let system = System::start().await;
    for name in testkit::samples::names() {
        let name = name.as_str();
        let mut body = testkit::samples::json(name);
        body["callbackApiKey"] = json!("not-the-key");
        let response = system.post(&serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(response.status(), 401, "{name}");
    }
    assert!(system.run_families().await.is_empty());
    assert!(system.moto.sms().await.is_empty());
    assert!(system.moto.emails().await.is_empty());
    assert!(testkit::scan_table(&system.aws, TABLE).await.is_empty());
}

#[tokio::test]
async fn a_callback_delivered_twice_is_sent_once() {
    let system = System::start().await;
    let otp = testkit::samples::bytes("one-time-password-request");
    assert_eq!(system.post(&otp).await.status(), 202);
    assert_eq!(system.post(&otp).await.status(), 202);
    let outcomes: Vec<String> = system
        .run_families()
        .await
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    assert_eq!(outcomes, ["sent", "deduplicated"]);
    assert_eq!(system.moto.sms().await.len(), 1);
}
