//! The deployment's e-mail budgets, read where the alarms read them: the log lines' metrics. A
//! test binary of its own, as every test that reads log lines: tracing's interest cache is
//! process-wide.

mod common;

use common::{envelope, family, link_with_cc, otp};
use shared::message::DeliveryOutcome;
use testkit::Moto;

#[tokio::test]
async fn the_budgets_count_every_recipient_and_links_have_their_own() {
    let logs = testkit::Captured::default();
    let _guard = logs.install();
    let moto = Moto::start().await;
    let (mut family, _) = family(&moto, true).await;
    family.config.max_per_hour = 5;
    family.config.link_max_per_hour = 6;
    // Links: 3 recipients each, so two fit in 6 and a third is refused.
    let mut links = Vec::new();
    for i in 0..3 {
        let e = envelope(
            link_with_cc(
                &format!("link-{i}"),
                &format!("to{i}@example.com"),
                &format!("x{i}@example.com, y{i}@example.com"),
            ),
            &format!("l{i}"),
        );
        links.push(family.handle(&e).await.unwrap());
    }
    use DeliveryOutcome::{Sent, Suppressed};
    assert_eq!(links, [Sent, Sent, Suppressed]);
    // The OTPs have their own 5, whatever the links spent.
    let mut otps = Vec::new();
    for i in 0..6 {
        let e = envelope(
            otp(&format!("user{i}@example.com"), "Your code is 1"),
            &format!("o{i}"),
        );
        otps.push(family.handle(&e).await.unwrap());
    }
    assert_eq!(otps, [Sent, Sent, Sent, Sent, Sent, Suppressed]);
    let lines = logs.lines();
    let reasons: Vec<&str> = (lines.iter())
        .filter(|l| l["outcome"] == "suppressed")
        .map(|l| l["reason"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(reasons, ["link-budget-exhausted", "budget-exhausted"]);
    // The Sent metric counts recipients: what SES bills.
    let sent: Vec<u64> = (lines.iter())
        .filter(|l| l["outcome"] == "sent")
        .map(|l| l["Sent"].as_u64().unwrap())
        .collect();
    assert_eq!(sent, [3, 3, 1, 1, 1, 1, 1]);
}
