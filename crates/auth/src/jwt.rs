//! HS256 JWTs: access tokens for the API and single-purpose email verification tokens.
//!
//! The algorithm is pinned on both sides; audience and issuer are required, so a token
//! minted for one purpose can never be used for another.

use crate::cursors::CursorSeal;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use milkrun_domain::values::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "milkrun";
const ACCESS_AUDIENCE: &str = "milkrun-api";
const VERIFY_EMAIL_AUDIENCE: &str = "milkrun-verify-email";
/// Shorter secrets are refused: HS256 is only as strong as its key.
pub const MIN_SECRET_BYTES: usize = 32;
pub const DEFAULT_ACCESS_TTL_SECS: i64 = 3600;
pub const VERIFY_EMAIL_TTL_SECS: i64 = 48 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the JWT secret must be at least {MIN_SECRET_BYTES} bytes")]
    WeakSecret,
    #[error("the token is missing, malformed, expired or not signed by us")]
    InvalidToken,
    #[error("could not sign a token: {0}")]
    Signing(String),
}

/// The claims of an access token; `sub` is the userId.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessClaims {
    pub sub: Uuid,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<Uuid>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub aud: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct EmailClaims {
    sub: Uuid,
    email: String,
    exp: i64,
    iat: i64,
    iss: String,
    aud: String,
}

/// A signing key and its verification rules. Build once at init.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    access_ttl_secs: i64,
    cursors: CursorSeal,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("access_ttl_secs", &self.access_ttl_secs)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8], access_ttl_secs: i64) -> Result<Self, AuthError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AuthError::WeakSecret);
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl_secs,
            cursors: CursorSeal::derive(secret),
        })
    }

    /// Signs pagination cursors with a key derived from the same secret.
    pub fn cursors(&self) -> &CursorSeal {
        &self.cursors
    }

    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl_secs
    }

    pub fn issue_access(
        &self,
        user_id: Uuid,
        role: Role,
        vendor_id: Option<Uuid>,
    ) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user_id,
            role,
            vendor_id,
            iat: now,
            exp: now + self.access_ttl_secs,
            iss: ISSUER.into(),
            aud: ACCESS_AUDIENCE.into(),
        };
        self.sign(&claims)
    }

    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, AuthError> {
        self.verify(token, ACCESS_AUDIENCE)
    }

    pub fn issue_email_verification(
        &self,
        user_id: Uuid,
        email: &str,
    ) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let claims = EmailClaims {
            sub: user_id,
            email: email.into(),
            iat: now,
            exp: now + VERIFY_EMAIL_TTL_SECS,
            iss: ISSUER.into(),
            aud: VERIFY_EMAIL_AUDIENCE.into(),
        };
        self.sign(&claims)
    }

    /// The (userId, email) an email verification token was issued for.
    pub fn verify_email_verification(&self, token: &str) -> Result<(Uuid, String), AuthError> {
        let claims: EmailClaims = self.verify(token, VERIFY_EMAIL_AUDIENCE)?;
        Ok((claims.sub, claims.email))
    }

    fn sign<T: Serialize>(&self, claims: &T) -> Result<String, AuthError> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AuthError::Signing(e.to_string()))
    }

    fn verify<T: for<'de> Deserialize<'de>>(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<T, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_audience(&[audience]);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        decode::<T>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| AuthError::InvalidToken)
    }
}

/// Reads the bearer token out of an `Authorization` header value.
pub fn bearer_token(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> JwtKeys {
        JwtKeys::new(SECRET, 3600).unwrap()
    }

    fn b64(json: serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap())
    }

    #[test]
    fn access_token_round_trips_its_claims() {
        let user = Uuid::new_v4();
        let vendor = Uuid::new_v4();
        let token = keys()
            .issue_access(user, Role::Vendor, Some(vendor))
            .unwrap();
        let claims = keys().verify_access(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.role, claims.vendor_id),
            (user, Role::Vendor, Some(vendor))
        );
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[test]
    fn weak_secrets_are_refused() {
        assert_eq!(
            JwtKeys::new(b"short", 3600).unwrap_err(),
            AuthError::WeakSecret
        );
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let expired = JwtKeys::new(SECRET, -120)
            .unwrap()
            .issue_access(Uuid::new_v4(), Role::Customer, None)
            .unwrap();
        assert_eq!(keys().verify_access(&expired), Err(AuthError::InvalidToken));
    }

    #[test]
    fn tokens_signed_with_another_secret_are_rejected() {
        let other = JwtKeys::new(b"another-secret-another-secret-32", 3600).unwrap();
        let forged = other
            .issue_access(Uuid::new_v4(), Role::Admin, None)
            .unwrap();
        assert_eq!(keys().verify_access(&forged), Err(AuthError::InvalidToken));
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let token = keys()
            .issue_access(Uuid::new_v4(), Role::Customer, None)
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = "ADMIN".into();
        let tampered = format!("{}.{}.{}", parts[0], b64(claims), parts[2]);
        assert_eq!(
            keys().verify_access(&tampered),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn alg_none_is_rejected() {
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "sub": Uuid::new_v4(), "role": "ADMIN", "iat": now, "exp": now + 600,
            "iss": ISSUER, "aud": ACCESS_AUDIENCE,
        });
        let unsigned = format!(
            "{}.{}.",
            b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(claims)
        );
        assert_eq!(
            keys().verify_access(&unsigned),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn email_tokens_are_not_access_tokens_and_vice_versa() {
        let user = Uuid::new_v4();
        let email_token = keys().issue_email_verification(user, "a@b.co").unwrap();
        assert_eq!(
            keys().verify_access(&email_token),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            keys().verify_email_verification(&email_token).unwrap(),
            (user, "a@b.co".to_owned())
        );
        let access = keys().issue_access(user, Role::Customer, None).unwrap();
        assert!(keys().verify_email_verification(&access).is_err());
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
