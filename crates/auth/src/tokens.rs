//! Access tokens: EdDSA (Ed25519) JWTs. Only the user service holds the private key and
//! mints them ([`TokenSigner`]); the authorizer and every function verify them with the
//! public key alone ([`TokenVerifier`]), so no other function can mint a token.
//!
//! The algorithm is pinned; audience and issuer are required.

use chrono::Utc;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use milkrun_domain::values::Role;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "milkrun";
const ACCESS_AUDIENCE: &str = "milkrun-api";
pub const DEFAULT_ACCESS_TTL_SECS: i64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("a key must be at least 32 bytes")]
    WeakSecret,
    #[error("the key is not a valid {0} key")]
    InvalidKey(&'static str),
    #[error("the token is missing, malformed, expired or not signed by us")]
    InvalidToken,
    #[error("could not sign a token: {0}")]
    Signing(String),
}

/// The claims of an access token; `sub` is the userId. The role and vendor are the
/// account's at login, for the gateway's context only: functions authorize from the
/// account as it is now.
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

/// The validation rules of a token kind: one algorithm, the audience and issuer required.
pub(crate) fn validation(algorithm: Algorithm, audience: &str) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.algorithms = vec![algorithm];
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.leeway = 5;
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation
}

pub(crate) fn checked<T: DeserializeOwned>(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<T, AuthError> {
    decode::<T>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|_| AuthError::InvalidToken)
}

pub(crate) fn signed<T: Serialize>(
    algorithm: Algorithm,
    claims: &T,
    key: &EncodingKey,
) -> Result<String, AuthError> {
    encode(&Header::new(algorithm), claims, key).map_err(|e| AuthError::Signing(e.to_string()))
}

/// Verifies access tokens with the public key. Build once at init.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier").finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// From the public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_public_pem(pem: &str) -> Result<Self, AuthError> {
        let key = DecodingKey::from_ed_pem(pem.trim().as_bytes())
            .map_err(|_| AuthError::InvalidKey("Ed25519 public"))?;
        Ok(Self {
            key,
            validation: validation(Algorithm::EdDSA, ACCESS_AUDIENCE),
        })
    }

    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, AuthError> {
        checked(token, &self.key, &self.validation)
    }
}

/// Mints access tokens with the private key: the user service only.
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    public_pem: String,
    access_ttl_secs: i64,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("access_ttl_secs", &self.access_ttl_secs)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// From the private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_private_pem(pem: &str, access_ttl_secs: i64) -> Result<Self, AuthError> {
        let key = SigningKey::from_pkcs8_pem(pem.trim())
            .map_err(|_| AuthError::InvalidKey("Ed25519 private"))?;
        Self::from_key(&key, access_ttl_secs)
    }

    /// From the 32 secret bytes of an Ed25519 key.
    pub fn from_seed(seed: [u8; 32], access_ttl_secs: i64) -> Result<Self, AuthError> {
        Self::from_key(&SigningKey::from_bytes(&seed), access_ttl_secs)
    }

    fn from_key(key: &SigningKey, access_ttl_secs: i64) -> Result<Self, AuthError> {
        let invalid = |_| AuthError::InvalidKey("Ed25519");
        let der = key.to_pkcs8_der().map_err(invalid)?;
        let public_pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|_| AuthError::InvalidKey("Ed25519"))?;
        Ok(Self {
            key: EncodingKey::from_ed_der(der.as_bytes()),
            public_pem,
            access_ttl_secs,
        })
    }

    /// The private key as PKCS#8 PEM, to store it (key generation only).
    pub fn private_pem_of_seed(seed: [u8; 32]) -> Result<String, AuthError> {
        SigningKey::from_bytes(&seed)
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|_| AuthError::InvalidKey("Ed25519"))
    }

    /// The public key every verifier needs, as SPKI PEM.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// A verifier for the tokens this signer mints.
    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier::from_public_pem(&self.public_pem).expect("our own public key parses")
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
        signed(Algorithm::EdDSA, &claims, &self.key)
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

    fn signer() -> TokenSigner {
        TokenSigner::from_seed([7; 32], 3600).unwrap()
    }

    fn b64(json: serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap())
    }

    #[test]
    fn access_token_round_trips_its_claims_through_the_public_key() {
        let (user, vendor) = (Uuid::new_v4(), Uuid::new_v4());
        let token = signer()
            .issue_access(user, Role::Vendor, Some(vendor))
            .unwrap();
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "EdDSA");
        let verifier = TokenVerifier::from_public_pem(signer().public_pem()).unwrap();
        let claims = verifier.verify_access(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.role, claims.vendor_id),
            (user, Role::Vendor, Some(vendor))
        );
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[test]
    fn keys_round_trip_through_pem() {
        let pem = TokenSigner::private_pem_of_seed([9; 32]).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let from_pem = TokenSigner::from_private_pem(&pem, 60).unwrap();
        assert_eq!(
            from_pem.public_pem(),
            TokenSigner::from_seed([9; 32], 60).unwrap().public_pem()
        );
        assert!(TokenSigner::from_private_pem("not a key", 60).is_err());
        assert!(TokenVerifier::from_public_pem("not a key").is_err());
    }

    #[test]
    fn expired_tokens_and_other_keys_are_rejected() {
        let verifier = signer().verifier();
        let expired = TokenSigner::from_seed([7; 32], -120)
            .unwrap()
            .issue_access(Uuid::new_v4(), Role::Customer, None)
            .unwrap();
        assert_eq!(
            verifier.verify_access(&expired),
            Err(AuthError::InvalidToken)
        );
        let forged = TokenSigner::from_seed([8; 32], 3600)
            .unwrap()
            .issue_access(Uuid::new_v4(), Role::Admin, None)
            .unwrap();
        assert_eq!(
            verifier.verify_access(&forged),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn tampered_payload_alg_none_and_hmac_with_the_public_key_are_rejected() {
        let verifier = signer().verifier();
        let token = signer()
            .issue_access(Uuid::new_v4(), Role::Customer, None)
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = "ADMIN".into();
        let tampered = format!("{}.{}.{}", parts[0], b64(claims.clone()), parts[2]);
        assert_eq!(
            verifier.verify_access(&tampered),
            Err(AuthError::InvalidToken)
        );
        let unsigned = format!(
            "{}.{}.",
            b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(claims.clone())
        );
        assert_eq!(
            verifier.verify_access(&unsigned),
            Err(AuthError::InvalidToken)
        );
        // The classic confusion: HS256 keyed with the (public) verification key.
        let confused = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(signer().public_pem().as_bytes()),
        )
        .unwrap();
        assert_eq!(
            verifier.verify_access(&confused),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
