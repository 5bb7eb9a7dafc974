//! Email verification tokens: single-purpose HS256 JWTs under their own key, minted by the
//! notification service (for the welcome mail) and checked by the user service. The key
//! can mint nothing else: access tokens are EdDSA under the user service's private key.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::tokens::{AuthError, ISSUER, checked, signed, validation};

const VERIFY_EMAIL_AUDIENCE: &str = "milkrun-verify-email";
pub const VERIFY_EMAIL_TTL_SECS: i64 = 48 * 3600;
/// Unsubscribe links carry their own audience: one opens no login and verifies no email.
const UNSUBSCRIBE_AUDIENCE: &str = "milkrun-unsubscribe";
/// A promotional mail's link keeps working for a year: people unsubscribe from old mail.
pub const UNSUBSCRIBE_TTL_SECS: i64 = 365 * 24 * 3600;
/// Shorter keys are refused: HS256 is only as strong as its key.
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct EmailClaims {
    sub: Uuid,
    email: String,
    exp: i64,
    iat: i64,
    iss: String,
    aud: String,
}

/// What an unsubscribe token says: this user, nothing else.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UnsubscribeClaims {
    sub: Uuid,
    exp: i64,
    iat: i64,
    iss: String,
    aud: String,
}

#[derive(Clone)]
pub struct VerificationTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    unsubscribe: Validation,
}

impl std::fmt::Debug for VerificationTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationTokens").finish_non_exhaustive()
    }
}

impl VerificationTokens {
    pub fn new(key: &[u8]) -> Result<Self, AuthError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(AuthError::WeakSecret);
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation: validation(Algorithm::HS256, VERIFY_EMAIL_AUDIENCE),
            unsubscribe: validation(Algorithm::HS256, UNSUBSCRIBE_AUDIENCE),
        })
    }

    pub fn issue(&self, user_id: Uuid, email: &str) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let claims = EmailClaims {
            sub: user_id,
            email: email.into(),
            iat: now,
            exp: now + VERIFY_EMAIL_TTL_SECS,
            iss: ISSUER.into(),
            aud: VERIFY_EMAIL_AUDIENCE.into(),
        };
        signed(Algorithm::HS256, &claims, &self.encoding)
    }

    /// The (userId, email) a token was issued for.
    pub fn verify(&self, token: &str) -> Result<(Uuid, String), AuthError> {
        let claims: EmailClaims = checked(token, &self.decoding, &self.validation)?;
        Ok((claims.sub, claims.email))
    }

    /// The token of `user_id`'s unsubscribe link (promotional mail).
    pub fn issue_unsubscribe(&self, user_id: Uuid) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let claims = UnsubscribeClaims {
            sub: user_id,
            iat: now,
            exp: now + UNSUBSCRIBE_TTL_SECS,
            iss: ISSUER.into(),
            aud: UNSUBSCRIBE_AUDIENCE.into(),
        };
        signed(Algorithm::HS256, &claims, &self.encoding)
    }

    /// The user an unsubscribe token was issued for.
    pub fn verify_unsubscribe(&self, token: &str) -> Result<Uuid, AuthError> {
        let claims: UnsubscribeClaims = checked(token, &self.decoding, &self.unsubscribe)?;
        Ok(claims.sub)
    }
}

#[cfg(test)]
mod tests {
    use milkrun_domain::values::Role;

    use super::*;
    use crate::tokens::TokenSigner;

    #[test]
    fn verification_tokens_are_not_access_tokens_and_vice_versa() {
        let tokens = VerificationTokens::new(&[3; 32]).unwrap();
        let user = Uuid::new_v4();
        let token = tokens.issue(user, "a@b.co").unwrap();
        assert_eq!(tokens.verify(&token).unwrap(), (user, "a@b.co".to_owned()));
        let signer = TokenSigner::from_seed([7; 32], 3600).unwrap();
        assert_eq!(
            signer.verifier().verify_access(&token),
            Err(AuthError::InvalidToken)
        );
        let access = signer.issue_access(user, Role::Customer, None).unwrap();
        assert!(tokens.verify(&access).is_err());
        let other = VerificationTokens::new(&[4; 32]).unwrap();
        assert!(
            other.verify(&token).is_err(),
            "another key's tokens are refused"
        );
        assert_eq!(
            VerificationTokens::new(b"short").unwrap_err(),
            AuthError::WeakSecret
        );
    }

    #[test]
    fn unsubscribe_tokens_unsubscribe_and_do_nothing_else() {
        let tokens = VerificationTokens::new(&[3; 32]).unwrap();
        let user = Uuid::new_v4();
        let token = tokens.issue_unsubscribe(user).unwrap();
        assert_eq!(tokens.verify_unsubscribe(&token).unwrap(), user);
        assert!(tokens.verify(&token).is_err(), "not an email verification");
        let signer = TokenSigner::from_seed([7; 32], 3600).unwrap();
        assert!(
            signer.verifier().verify_access(&token).is_err(),
            "not a login"
        );
        let verify = tokens.issue(user, "a@b.co").unwrap();
        assert!(tokens.verify_unsubscribe(&verify).is_err());
        let other = VerificationTokens::new(&[4; 32]).unwrap();
        assert!(other.verify_unsubscribe(&token).is_err(), "forged");
    }
}
