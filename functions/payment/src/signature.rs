//! Webhook signatures: `X-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw request body
//! under the webhook secret, compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header the gateway signs with.
pub const HEADER: &str = "x-signature";
/// The scheme prefix of the header's value.
const SCHEME: &str = "sha256=";

fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any size")
}

/// The header value a gateway sends for `body` (for tests and for signing a local webhook).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{SCHEME}{hex}")
}

/// Whether `header` (the `X-Signature` value, if sent) signs `body` under `secret`. A
/// missing or malformed header is no signature; the digests are compared in constant time.
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8]) -> bool {
    let Some(claimed) = header
        .map(str::trim)
        .and_then(|value| value.strip_prefix(SCHEME))
        .and_then(decode_hex)
    else {
        return false;
    };
    let mut mac = mac(secret);
    mac.update(body);
    mac.verify_slice(&claimed).is_ok()
}

/// Hex digits (either case) as bytes; `None` for anything else.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    hex.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_0123456789abcdef";

    #[test]
    fn a_signature_verifies_for_its_body_and_secret_only() {
        let body = br#"{"orderId":"x","status":"SUCCEEDED"}"#;
        let header = sign(SECRET, body);
        assert!(header.starts_with("sha256=") && header.len() == 7 + 64);
        assert!(verify(SECRET, Some(&header), body));
        assert!(verify(
            SECRET,
            Some(&header.to_uppercase().replace("SHA256=", "sha256=")),
            body
        ));
        assert!(!verify(SECRET, Some(&header), b"{\"orderId\":\"y\"}"));
        assert!(!verify(
            b"another-secret-of-some-length",
            Some(&header),
            body
        ));
    }

    #[test]
    fn missing_or_malformed_headers_never_verify() {
        let body = b"{}";
        let good = sign(SECRET, body);
        let hex = good.strip_prefix("sha256=").unwrap();
        for bad in [
            None,
            Some(""),
            Some(hex),
            Some("sha1=abcd"),
            Some("sha256="),
            Some("sha256=zz"),
            Some(&good[..good.len() - 1]),
            Some(&good[..good.len() - 2]),
        ] {
            assert!(!verify(SECRET, bad, body), "{bad:?}");
        }
    }
}
