//! Tamper-checked pagination cursors. A store's cursor names the last item a page showed;
//! handed to clients as is, it could be edited to start anywhere (or fed garbage that a
//! store must then reject). Sealing appends an HMAC over the cursor and the listing it
//! belongs to, so a cursor is only ever accepted back by the listing that issued it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the tag kept: 128 bits is far beyond guessing through an API.
const TAG_BYTES: usize = 16;

#[derive(Clone)]
pub struct CursorSeal {
    key: [u8; 32],
}

impl std::fmt::Debug for CursorSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorSeal").finish_non_exhaustive()
    }
}

/// The cursor was not issued by this deployment for this listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one this listing issued")]
pub struct ForeignCursor;

impl CursorSeal {
    /// A seal keyed from `secret` (a master secret) for this one purpose.
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any size");
        mac.update(b"milkrun cursor seal v1");
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    /// A seal keyed with `key` (the cursor key of a deployment, its own secret).
    pub fn new(key: &[u8]) -> Self {
        Self::derive(key)
    }

    fn mac(&self, scope: &str, cursor: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any size");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(cursor.as_bytes());
        mac
    }

    /// `cursor`, signed for the listing `scope` (route and filters).
    pub fn seal(&self, scope: &str, cursor: &str) -> String {
        let tag = self.mac(scope, cursor).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(cursor),
            URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES])
        )
    }

    /// The store cursor inside `sealed`, if this seal signed it for `scope`.
    pub fn open(&self, scope: &str, sealed: &str) -> Result<String, ForeignCursor> {
        let (body, tag) = sealed.split_once('.').ok_or(ForeignCursor)?;
        let cursor = URL_SAFE_NO_PAD.decode(body).map_err(|_| ForeignCursor)?;
        let cursor = String::from_utf8(cursor).map_err(|_| ForeignCursor)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| ForeignCursor)?;
        if tag.len() != TAG_BYTES {
            return Err(ForeignCursor);
        }
        self.mac(scope, &cursor)
            .verify_truncated_left(&tag)
            .map_err(|_| ForeignCursor)?;
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal() -> CursorSeal {
        CursorSeal::derive(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_sealed_cursor_opens_for_its_own_listing_only() {
        let sealed = seal().seal("products?category=MILK", "eyJwayI6IngifQ");
        assert_eq!(
            seal().open("products?category=MILK", &sealed).as_deref(),
            Ok("eyJwayI6IngifQ")
        );
        assert_eq!(
            seal().open("products?category=CURD", &sealed),
            Err(ForeignCursor)
        );
        let other_secret = CursorSeal::derive(b"another secret of 32 bytes or more!!");
        assert_eq!(
            other_secret.open("products?category=MILK", &sealed),
            Err(ForeignCursor)
        );
    }

    #[test]
    fn edited_or_garbage_cursors_are_refused() {
        let sealed = seal().seal("vendors", "abc");
        let (body, tag) = sealed.split_once('.').unwrap();
        let edited = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("abd"));
        for bad in [
            edited.as_str(),
            body,
            "",
            ".",
            "not base64!.x",
            "YWJj.AAAA",
            "%00",
        ] {
            assert_eq!(seal().open("vendors", bad), Err(ForeignCursor), "{bad:?}");
        }
    }
}
