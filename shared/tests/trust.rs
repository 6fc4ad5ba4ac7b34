//! What the HTTPS client trusts: the Amazon roots compiled in, or a bundle named by
//! `SSL_CERT_FILE` or `AWS_CA_BUNDLE`; and the check that keeps the client's own parsing of a
//! bundle from failing at init.

use shared::aws::{AMAZON_ROOTS, trusted_pem, usable_bundle};

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

#[test]
fn by_default_the_five_amazon_roots_are_trusted() {
    assert!(usable_bundle(AMAZON_ROOTS));
    let count = String::from_utf8_lossy(AMAZON_ROOTS)
        .matches("-----BEGIN CERTIFICATE-----")
        .count();
    assert_eq!(count, 5);
    assert_eq!(&*trusted_pem(&|_| None), AMAZON_ROOTS);
    assert_eq!(&*trusted_pem(&|_| Some(" ".to_owned())), AMAZON_ROOTS);
}

#[test]
fn ssl_cert_file_or_aws_ca_bundle_replace_them() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let isrg = fixtures.join("isrg-root-x1.pem").display().to_string();
    let only =
        |var: &'static str, value: String| move |name: &str| (name == var).then(|| value.clone());
    assert_eq!(
        &*trusted_pem(&only("SSL_CERT_FILE", isrg.clone())),
        ROOT.as_bytes()
    );
    assert_eq!(
        &*trusted_pem(&only("AWS_CA_BUNDLE", isrg.clone())),
        ROOT.as_bytes()
    );
    // SSL_CERT_FILE first; one that names nothing usable leaves the Amazon roots.
    let both = |name: &str| match name {
        "SSL_CERT_FILE" => Some("/no/such/bundle.pem".to_owned()),
        "AWS_CA_BUNDLE" => Some(isrg.clone()),
        _ => None,
    };
    assert_eq!(&*trusted_pem(&both), ROOT.as_bytes());
    let broken = only("SSL_CERT_FILE", "/no/such/bundle.pem".to_owned());
    assert_eq!(&*trusted_pem(&broken), AMAZON_ROOTS);
}
