//! The keys of a deployment, and which function holds which. In AWS each is its own SSM
//! SecureString (the verifying key a plain String: it is public), and a function is given
//! only the names of those it needs. Locally one master secret (`MILKRUN_JWT_SECRET`, or a
//! file generated in the data folder) derives them all, each for its one purpose.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::cursors::CursorSeal;
use crate::tokens::{AuthError, TokenSigner, TokenVerifier};
use crate::verification::{MIN_KEY_BYTES, VerificationTokens};

/// What one function may do with tokens and cursors.
#[derive(Clone, Debug)]
pub struct KeyRing {
    /// Every function: checks access tokens.
    pub verifier: TokenVerifier,
    /// Every function that lists: seals and opens cursors.
    pub cursors: CursorSeal,
    /// The user service only: mints access tokens.
    pub signer: Option<TokenSigner>,
    /// The user and notification services: email verification tokens.
    pub verification: Option<VerificationTokens>,
}

/// 32 bytes for `purpose`, from `master`.
fn derive(master: &[u8], purpose: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("HMAC takes keys of any size");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

impl KeyRing {
    /// Every key, derived from one master secret (local mode).
    pub fn derived(master: &[u8], access_ttl_secs: i64) -> Result<Self, AuthError> {
        if master.len() < MIN_KEY_BYTES {
            return Err(AuthError::WeakSecret);
        }
        let signer =
            TokenSigner::from_seed(derive(master, "milkrun signing key v1"), access_ttl_secs)?;
        Ok(Self {
            verifier: signer.verifier(),
            cursors: CursorSeal::derive(master),
            signer: Some(signer),
            verification: Some(VerificationTokens::new(&derive(
                master,
                "milkrun verification key v1",
            ))?),
        })
    }

    /// The keys one function was given (AWS): the verifying key and cursor key always,
    /// the others when present.
    pub fn given(
        verifying_key_pem: &str,
        cursor_key: &[u8],
        signing_key_pem: Option<&str>,
        verification_key: Option<&[u8]>,
        access_ttl_secs: i64,
    ) -> Result<Self, AuthError> {
        if cursor_key.len() < MIN_KEY_BYTES {
            return Err(AuthError::WeakSecret);
        }
        Ok(Self {
            verifier: TokenVerifier::from_public_pem(verifying_key_pem)?,
            cursors: CursorSeal::new(cursor_key),
            signer: signing_key_pem
                .map(|pem| TokenSigner::from_private_pem(pem, access_ttl_secs))
                .transpose()?,
            verification: verification_key.map(VerificationTokens::new).transpose()?,
        })
    }

    /// The signer, or an error naming the wiring mistake.
    pub fn signer(&self) -> Result<&TokenSigner, AuthError> {
        self.signer.as_ref().ok_or(AuthError::InvalidKey(
            "signing (not given to this function)",
        ))
    }

    pub fn verification(&self) -> Result<&VerificationTokens, AuthError> {
        self.verification.as_ref().ok_or(AuthError::InvalidKey(
            "verification (not given to this function)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use milkrun_domain::values::Role;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_master_secret_derives_a_separate_key_for_each_purpose() {
        let ring = KeyRing::derived(&[1; 40], 3600).unwrap();
        let token = ring
            .signer()
            .unwrap()
            .issue_access(Uuid::new_v4(), Role::Customer, None)
            .unwrap();
        assert!(ring.verifier.verify_access(&token).is_ok());
        let other = KeyRing::derived(&[2; 40], 3600).unwrap();
        assert!(other.verifier.verify_access(&token).is_err());
        assert_eq!(
            KeyRing::derived(b"short", 3600).unwrap_err(),
            AuthError::WeakSecret
        );
        assert_ne!(derive(&[1; 40], "a"), derive(&[1; 40], "b"));
    }

    #[test]
    fn a_function_without_the_private_key_can_verify_but_not_mint() {
        let full = KeyRing::derived(&[1; 40], 3600).unwrap();
        let public = full.signer().unwrap().public_pem().to_owned();
        let verifying_only = KeyRing::given(&public, &[5; 32], None, None, 3600).unwrap();
        let token = full
            .signer()
            .unwrap()
            .issue_access(Uuid::new_v4(), Role::Admin, None)
            .unwrap();
        assert!(verifying_only.verifier.verify_access(&token).is_ok());
        assert!(verifying_only.signer().is_err());
        assert!(verifying_only.verification().is_err());
    }
}
