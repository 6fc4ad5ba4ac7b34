//! Writes the HTML part of each e-mail kind, as the email function composes it from the
//! reference samples, for `scripts/checks/email_preview.py` to render in a browser and check:
//!
//!   cargo run -p email --example preview -- DIR [plain|branded]
//!
//! DIR/link.html, DIR/otp.html, and DIR/expected.json (the session link and the logo URL the
//! pages may point to). The branded layout uses a sample brand with a logo.

use std::error::Error;
use std::path::{Path, PathBuf};

use email::{Layout, compose};
use shared::Callback;

const LOGO: &str = "https://verify.acme-bank.example/logo.png";

fn sample(name: &str) -> Result<Callback, Box<dyn Error>> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../events/callbacks/{name}.json"));
    let body = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let fields = shared::parse::BodyFields::parse(&body)
        .map_err(|e| format!("{}: {e:?}", path.display()))?;
    Ok(fields
        .callback(shared::parse::Checks::TokenOnly)
        .map_err(|e| format!("{}: {e:?}", path.display()))?)
}

fn sample_brand(name: &str) -> Option<String> {
    let value = match name {
        "EMAIL_LAYOUT" => "branded",
        "EMAIL_BRAND_LOGO_URL" => LOGO,
        "EMAIL_BRAND_COLOR" => "#0B3D91",
        "EMAIL_BRAND_FOOTER" => {
            "Acme Bank · 1 Main Street, Tbilisi · You get this e-mail because you started a \
             verification with Acme Bank."
        }
        _ => return None,
    };
    Some(value.to_owned())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "target/email-preview".to_owned()),
    );
    let branded = args.next().as_deref() != Some("plain");
    let layout = match branded {
        false => Layout::Plain,
        true => Layout::from_lookup(&sample_brand, "Acme Bank")?,
    };
    std::fs::create_dir_all(&dir)?;
    let mut link = String::new();
    for (file, name) in [
        ("link", "share-session-link-via-email"),
        ("otp", "email-one-time-password-request"),
    ] {
        let callback = sample(name)?;
        if let Callback::EmailSessionLink(c) = &callback {
            link = c.session_link.as_str().to_owned();
        }
        let html = compose(&callback, &layout)
            .and_then(|email| email.html)
            .ok_or_else(|| format!("{name}: no HTML part"))?;
        std::fs::write(dir.join(format!("{file}.html")), html)?;
    }
    let expected = serde_json::json!({
        "sessionLink": link,
        "logo": branded.then_some(LOGO),
    });
    std::fs::write(dir.join("expected.json"), format!("{expected}\n"))?;
    println!("{}", dir.display());
    Ok(())
}
