//! Tokens, cursors and passwords: EdDSA access tokens (minted by the user service alone,
//! verified everywhere with the public key), email verification tokens under their own
//! key, sealed cursors, argon2id password hashing, and which function holds which key.

pub mod cursors;
pub mod keys;
pub mod passwords;
pub mod tokens;
pub mod verification;

pub use cursors::{CursorSeal, ForeignCursor};
pub use keys::KeyRing;
pub use passwords::PasswordHasher;
pub use tokens::{AccessClaims, AuthError, TokenSigner, TokenVerifier, bearer_token};
pub use verification::VerificationTokens;
