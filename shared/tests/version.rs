//! What is deployed says which version it is: every AWS call's `User-Agent` names it.

#[tokio::test]
async fn every_sdk_call_names_the_receivers_version() {
    let config = shared::aws::load_config().await;
    let name = config.app_name().map(ToString::to_string);
    assert_eq!(
        name.as_deref(),
        Some(format!("identomat-callbacks-{}", shared::VERSION).as_str())
    );
    assert_eq!(shared::VERSION, env!("CARGO_PKG_VERSION"));
}
