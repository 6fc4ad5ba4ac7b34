//! The CA bundle check that keeps the HTTPS client's own parsing from failing at init.

use shared::aws::usable_bundle;

const ROOT: &str = include_str!("fixtures/isrg-root-x1.pem");

#[test]
fn a_bundle_of_root_certificates_is_usable() {
    assert!(usable_bundle(ROOT.as_bytes()));
    assert!(usable_bundle(format!("{ROOT}\n{ROOT}").as_bytes()));
}

#[test]
fn an_empty_or_damaged_bundle_is_not() {
    assert!(!usable_bundle(b""));
    assert!(!usable_bundle(b"not a bundle"));
    // A block whose base64 is broken.
    let broken = ROOT.replacen("MII", "M%I", 1);
    assert!(!usable_bundle(format!("{ROOT}\n{broken}").as_bytes()));
    // A block that decodes but is no certificate.
    let junk = "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n";
    assert!(!usable_bundle(format!("{ROOT}\n{junk}").as_bytes()));
}

#[test]
fn the_first_usable_bundle_is_chosen() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let good = fixtures.join("isrg-root-x1.pem");
    let not_a_bundle = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let missing = fixtures.join("no-such-bundle.pem");
    let found = shared::aws::find_bundle([missing.clone(), not_a_bundle, good]);
    assert_eq!(found.as_deref(), Some(ROOT.as_bytes()));
    assert_eq!(shared::aws::find_bundle([missing]), None);
    // The client builds from whatever this machine has.
    let _client = shared::aws::https_client();
}
