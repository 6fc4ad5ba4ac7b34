//! Video room records in moto: reference samples, newest-wins, several rooms per session.

use aws_sdk_dynamodb::types::AttributeValue;
use shared::callback::{FileStatus, RoomStatus, VideoCallStatus};
use shared::family::FamilyError;
use shared::fields::{RoomId, SessionId, VideoFileId};
use shared::store::VideoOutcome;
use shared::{Callback, Envelope, SessionsTable, Timestamp};
use testkit::Moto;
use testkit::samples::callback as sample;
use testkit::{Item, text as s};

const TABLE: &str = "sessions";

async fn table(moto: &Moto) -> SessionsTable {
    let aws = moto.sdk_config().await;
    testkit::create_sessions_table(&aws, TABLE).await;
    SessionsTable::new(aws_sdk_dynamodb::Client::new(&aws), TABLE)
}

fn envelope(callback: Callback, ms: u64, request_id: &str) -> Envelope {
    Envelope {
        request_id: request_id.into(),
        received_at: Timestamp::from_unix_millis(ms),
        callback,
    }
}

fn update(room: &str, status: &str, file: Option<&str>) -> Callback {
    Callback::VideoCallStatus(VideoCallStatus {
        session_id: SessionId::parse("session-1").unwrap(),
        room_id: RoomId::parse(room).unwrap(),
        room_status: RoomStatus::parse(status).unwrap(),
        composition_status: file.map(|_| FileStatus::Available),
        video_file_status: file.map(|_| FileStatus::Available),
        video_file_id: file.map(|f| VideoFileId::parse(f).unwrap()),
    })
}

async fn records(moto: &Moto, session: &str) -> Vec<Item> {
    testkit::query_session(&moto.sdk_config().await, TABLE, session).await
}

fn is_null(item: &Item, name: &str) -> bool {
    matches!(item.get(name), Some(AttributeValue::Null(true)))
}

#[tokio::test]
async fn reference_samples_create_the_expected_items() {
    let moto = Moto::start().await;
    let table = table(&moto).await;
    let empty = envelope(
        sample("video-call-status-update-empty"),
        1_795_000_000_123,
        "r1",
    );
    let ended = envelope(
        sample("video-call-status-update-available"),
        1_795_000_000_456,
        "r2",
    );
    assert_eq!(
        video_call::handle(&table, &empty).await.unwrap(),
        VideoOutcome::Updated
    );
    assert_eq!(
        video_call::handle(&table, &ended).await.unwrap(),
        VideoOutcome::Updated
    );

    let items = records(&moto, "wtmfcr7tcj4q04co8mdg8yryou9glrcr2tbzm016").await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(
        s(item, "record"),
        "video#RM860d0a0272a619cdc0b4a855e75f8466"
    );
    assert_eq!(s(item, "roomId"), "RM860d0a0272a619cdc0b4a855e75f8466");
    assert_eq!(s(item, "roomStatus"), "empty");
    assert!(is_null(item, "compositionStatus") && is_null(item, "videoFileStatus"));
    assert!(is_null(item, "videoFileId"));
    assert_eq!(s(item, "receivedAt"), "2026-11-18T11:06:40.123Z");
    assert_eq!(s(item, "requestId"), "r1");
    assert!(s(item, "updatedAt").starts_with("20"));

    let items = records(&moto, "ypsgyus3mosob3tugu3emgekqjykam5nvue1z1fu").await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(
        s(item, "record"),
        "video#RMc7eb8093d2461af50834f69e86692db3"
    );
    assert_eq!(s(item, "roomStatus"), "ended");
    assert_eq!(s(item, "compositionStatus"), "available");
    assert_eq!(s(item, "videoFileStatus"), "available");
    assert_eq!(
        s(item, "videoFileId"),
        "hwenFYGlG54kRjmSruy3kxg54zV2pNPwHimseYao"
    );
}

#[tokio::test]
async fn newest_status_wins_in_any_delivery_order() {
    let moto = Moto::start().await;
    let table = table(&moto).await;
    let empty = envelope(update("RM1", "empty", None), 1_000, "r1");
    let ended = envelope(update("RM1", "ended", Some("file-1")), 2_000, "r2");

    video_call::handle(&table, &empty).await.unwrap();
    video_call::handle(&table, &ended).await.unwrap();
    // Delivered again, late: a repeat, and nothing changes.
    assert_eq!(
        video_call::handle(&table, &empty).await.unwrap(),
        VideoOutcome::Duplicate
    );
    // The same update under another request id, late: it only joins the history.
    let late = envelope(update("RM1", "empty", None), 1_500, "r3");
    assert_eq!(
        video_call::handle(&table, &late).await.unwrap(),
        VideoOutcome::Stale
    );

    let items = records(&moto, "session-1").await;
    assert_eq!(items.len(), 1);
    assert_eq!(s(&items[0], "roomStatus"), "ended");
    assert_eq!(s(&items[0], "videoFileStatus"), "available");
    assert_eq!(s(&items[0], "videoFileId"), "file-1");
    assert_eq!(s(&items[0], "requestId"), "r2");
}

#[tokio::test]
async fn rooms_of_one_session_are_kept_apart() {
    let moto = Moto::start().await;
    let table = table(&moto).await;
    video_call::handle(&table, &envelope(update("RM1", "empty", None), 1_000, "r1"))
        .await
        .unwrap();
    video_call::handle(
        &table,
        &envelope(update("RM2", "ended", Some("file-2")), 1_500, "r2"),
    )
    .await
    .unwrap();
    let items = records(&moto, "session-1").await;
    let rooms: Vec<(String, String)> = items
        .iter()
        .map(|i| (s(i, "record"), s(i, "roomStatus")))
        .collect();
    assert_eq!(
        rooms,
        [
            ("video#RM1".into(), "empty".into()),
            ("video#RM2".into(), "ended".into())
        ]
    );
}

#[tokio::test]
async fn store_failures_are_errors_so_lambda_retries() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    let down = aws_sdk_dynamodb::config::Builder::from(&aws)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let down = SessionsTable::new(aws_sdk_dynamodb::Client::from_conf(down), TABLE);
    let err = video_call::handle(&down, &envelope(update("RM1", "empty", None), 1, "r"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FamilyError::Store(ref e) if e.is_retryable()),
        "{err}"
    );
    let table = table(&moto).await;
    let misrouted = envelope(sample("session-change"), 1, "r");
    assert!(matches!(
        video_call::handle(&table, &misrouted).await,
        Err(FamilyError::Misrouted(_))
    ));
}

#[tokio::test]
async fn a_late_retry_with_nulls_never_erases_a_recordings_file_id() {
    let moto = Moto::start().await;
    let table = table(&moto).await;
    let ended = envelope(update("RM7", "ended", None), 1_000, "r1");
    let available = envelope(update("RM7", "ended", Some("file-1")), 2_000, "r2");
    video_call::handle(&table, &ended).await.unwrap();
    video_call::handle(&table, &available).await.unwrap();
    // The platform retries the first update, with its nulls, and it is received last.
    let retry = envelope(update("RM7", "ended", None), 3_000, "r1-retry");
    assert_eq!(
        video_call::handle(&table, &retry).await.unwrap(),
        VideoOutcome::Stale
    );
    let items = records(&moto, "session-1").await;
    let item = &items[0];
    assert_eq!(s(item, "videoFileId"), "file-1");
    assert_eq!(s(item, "videoFileStatus"), "available");
    assert_eq!(s(item, "requestId"), "r2");
    assert_eq!(item["history"].as_l().unwrap().len(), 3);

    // A newer, different file replaces it; the previous one is kept.
    let newer = envelope(update("RM7", "ended", Some("file-2")), 4_000, "r4");
    assert_eq!(
        video_call::handle(&table, &newer).await.unwrap(),
        VideoOutcome::Updated
    );
    let items = records(&moto, "session-1").await;
    assert_eq!(s(&items[0], "videoFileId"), "file-2");
    let previous: Vec<&str> = items[0]["previousVideoFileIds"]
        .as_l()
        .unwrap()
        .iter()
        .map(|v| v.as_s().unwrap().as_str())
        .collect();
    assert_eq!(previous, ["file-1"]);
}

#[tokio::test]
async fn a_record_written_by_0_2_is_merged_into_not_replaced() {
    let moto = Moto::start().await;
    let table = table(&moto).await;
    let aws = moto.sdk_config().await;
    // 0.2's item: the newest update's fields, no version, no history.
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let s_ = |v: &str| AttributeValue::S(v.to_owned());
    client
        .put_item()
        .table_name(TABLE)
        .item("sessionId", s_("session-1"))
        .item("record", s_("video#RM9"))
        .item("roomId", s_("RM9"))
        .item("roomStatus", s_("ended"))
        .item("compositionStatus", s_("available"))
        .item("videoFileStatus", s_("available"))
        .item("videoFileId", s_("file-9"))
        .item("receivedAt", s_("2026-11-18T11:06:40.123Z"))
        .item("requestId", s_("old"))
        .item("updatedAt", s_("2026-11-18T11:06:40.200Z"))
        .send()
        .await
        .unwrap();
    let late = envelope(update("RM9", "ended", None), 1_795_000_000_999, "new");
    assert_eq!(
        video_call::handle(&table, &late).await.unwrap(),
        VideoOutcome::Stale
    );
    let items = records(&moto, "session-1").await;
    assert_eq!(s(&items[0], "videoFileId"), "file-9");
    assert_eq!(items[0]["version"].as_n().unwrap(), "1");
}
