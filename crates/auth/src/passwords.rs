//! argon2id at OWASP's recommended floor: m = 19 MiB, t = 2, p = 1.

use argon2::password_hash::phc::PasswordHash as PhcHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use std::sync::{Arc, OnceLock};

use argon2::{Algorithm, Argon2, Params, Version};
use milkrun_domain::values::{Password, PasswordHash};

pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashingError(String);

/// Hashes and verifies passwords; cheap to clone, holds no secrets.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    /// Verified against when the account does not exist, so that an unknown email costs
    /// the same time as a wrong password and response time does not reveal accounts.
    /// Made on first use, not at start: a hash costs ~15 ms of CPU a cold start should not pay.
    decoy: Arc<OnceLock<String>>,
}

impl PasswordHasher {
    pub fn new() -> Self {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
            .expect("OWASP argon2 parameters are valid");
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        Self {
            argon2,
            decoy: Arc::default(),
        }
    }

    pub fn hash(&self, password: &Password) -> Result<PasswordHash, HashingError> {
        let phc = self
            .argon2
            .hash_password(password.expose().as_bytes())
            .map_err(|e| HashingError(e.to_string()))?;
        Ok(PasswordHash::new(phc.to_string()))
    }

    /// True only when `password` matches `hash`; a malformed hash never matches.
    pub fn verify(&self, password: &str, hash: &PasswordHash) -> bool {
        PhcHash::new(hash.as_phc())
            .map(|parsed| {
                self.argon2
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    }

    /// Spends the time of one verification without any account, then answers false.
    pub fn verify_decoy(&self, password: &str) -> bool {
        let decoy = self.decoy.get_or_init(|| {
            self.argon2
                .hash_password(b"milkrun-decoy-password")
                .expect("hashing a constant succeeds")
                .to_string()
        });
        let _ = self.verify(password, &PasswordHash::new(decoy.clone()));
        false
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hasher = PasswordHasher::new();
        let password = Password::parse("correct horse battery").unwrap();
        let hash = hasher.hash(&password).unwrap();
        assert!(
            hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_phc()
        );
        assert!(hasher.verify("correct horse battery", &hash));
        assert!(!hasher.verify("wrong horse battery", &hash));
    }

    #[test]
    fn same_password_gets_a_fresh_salt() {
        let hasher = PasswordHasher::new();
        let password = Password::parse("correct horse battery").unwrap();
        assert_ne!(
            hasher.hash(&password).unwrap(),
            hasher.hash(&password).unwrap()
        );
    }

    #[test]
    fn malformed_hash_and_decoy_never_match() {
        let hasher = PasswordHasher::new();
        assert!(!hasher.verify("anything", &PasswordHash::new("not-a-phc-string".into())));
        assert!(!hasher.verify_decoy("milkrun-decoy-password"));
    }
}
