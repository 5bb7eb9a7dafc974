//! What every service is built from. Each host family has one composition root that builds
//! [`Adapters`] once: milkrun-lambda from the environment (AWS), milkrun-local from a data
//! folder. Services are described by [`HttpService`] and [`ConsumerService`], and
//! milkrun-registry lists them all for every host and test harness.

pub mod delivery;

use std::sync::Arc;

use futures::future::BoxFuture;
use milkrun_auth::JwtKeys;
use milkrun_domain::DomainError;
use milkrun_domain::events::Topic;
use milkrun_domain::ports::{EventHandler, Mailer};
use milkrun_store::{Stores, TableSpec};
use utoipa_axum::router::OpenApiRouter;

/// Everything a service may be built from, over one host's technology.
#[derive(Clone)]
pub struct Adapters {
    pub stores: Stores,
    pub mailer: Arc<dyn Mailer>,
    pub keys: Arc<JwtKeys>,
    pub settings: Settings,
}

/// Configuration services read, validated where it is read in (a missing required setting
/// stops the start, never a silent default in AWS).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Link prefix in the welcome mail; the verification token is appended.
    pub verify_email_url: String,
    /// The administrator to create at start unless the email is taken.
    pub admin: Option<AdminAccount>,
}

#[derive(Clone, Default)]
pub struct AdminAccount {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for AdminAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAccount")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Once-at-start work of a service (the user service's admin bootstrap).
pub type StartHook = fn(Adapters) -> BoxFuture<'static, Result<(), DomainError>>;

/// An HTTP service: its routes over adapters, and what it needs.
pub struct HttpService {
    /// The Lambda function's binary name in AWS.
    pub name: &'static str,
    /// The tables its routes read or write; a host checks they are configured at start.
    pub tables: &'static [&'static TableSpec],
    pub api: fn(&Adapters) -> OpenApiRouter,
    /// Its documented routes, without a service behind them (for the OpenAPI document).
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    pub start: Option<StartHook>,
}

/// An event consumer: which topics feed it, and the handler over adapters.
pub struct ConsumerService {
    pub name: &'static str,
    pub tables: &'static [&'static TableSpec],
    pub topics: &'static [Topic],
    pub handler: fn(&Adapters) -> Arc<dyn EventHandler>,
}
