//! Authentication written once: the JWT module used by the Lambda authorizer and by every
//! function's auth extractor, and argon2id password hashing.

pub mod cursors;
pub mod jwt;
pub mod passwords;

pub use cursors::{CursorSeal, ForeignCursor};
pub use jwt::{AccessClaims, AuthError, JwtKeys};
pub use passwords::PasswordHasher;
