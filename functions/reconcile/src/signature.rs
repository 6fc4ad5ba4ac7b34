//! Identomat's optional HMAC signing ("HMAC authorization"): a plain body is signed as
//! `base64(hmac_sha256(secret_key, body))`, sent as `Authorization: signature="<base64>"`; a
//! successful response carries the same header over its own body. The platform puts no time or
//! nonce in it, so a signature proves who wrote a body, not when.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header that carries a signature, both ways.
pub const HEADER: &str = "authorization";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the response carries no signature")]
    Missing,
    #[error("the response's signature does not match its body")]
    Wrong,
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key"))
}

/// `signature="<base64>"` for `body`.
pub fn header_value(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    format!(
        "signature=\"{}\"",
        STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Checks a response's `Authorization` header against its body, in constant time.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&[u8]>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let text = std::str::from_utf8(header).map_err(|_| SignatureError::Wrong)?;
    let value = text
        .trim()
        .strip_prefix("signature=")
        .ok_or(SignatureError::Wrong)?
        .trim_matches('"');
    let presented = STANDARD.decode(value).map_err(|_| SignatureError::Wrong)?;
    let mut mac = mac(secret);
    mac.update(body);
    mac.verify_slice(&presented)
        .map_err(|_| SignatureError::Wrong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4231_test_case_2() {
        // RFC 4231, 4.3: key "Jefe", data "what do ya want for nothing?".
        let header = header_value(b"Jefe", b"what do ya want for nothing?");
        let expected = STANDARD.encode(
            [
                0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
                0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
                0x64, 0xec, 0x38, 0x43,
            ]
            .as_slice(),
        );
        assert_eq!(header, format!("signature=\"{expected}\""));
    }

    #[test]
    fn a_signature_verifies_only_its_body_and_key() {
        let header = header_value(b"secret", b"{\"result\":\"approved\"}");
        assert_eq!(
            verify(
                b"secret",
                b"{\"result\":\"approved\"}",
                Some(header.as_bytes())
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                b"secret",
                b"{\"result\":\"rejected\"}",
                Some(header.as_bytes())
            ),
            Err(SignatureError::Wrong)
        );
        assert_eq!(
            verify(
                b"other",
                b"{\"result\":\"approved\"}",
                Some(header.as_bytes())
            ),
            Err(SignatureError::Wrong)
        );
        assert_eq!(verify(b"secret", b"{}", None), Err(SignatureError::Missing));
        for junk in [
            "",
            "signature=",
            "signature=\"%%%\"",
            "Bearer x",
            "signature=\"AAAA\"",
        ] {
            assert_eq!(
                verify(b"secret", b"{}", Some(junk.as_bytes())),
                Err(SignatureError::Wrong),
                "{junk}"
            );
        }
    }
}
