//! What every service is built from. Each host family has one composition root that builds
//! [`Adapters`] once: milkrun-lambda from the environment (AWS), milkrun-local from a data
//! folder. Services are described by [`HttpService`] and [`ConsumerService`], and
//! milkrun-registry lists them all for every host and test harness.

pub mod access;
pub mod delivery;

use std::sync::Arc;

use futures::future::BoxFuture;
use milkrun_auth::KeyRing;
use milkrun_domain::DomainError;
use milkrun_domain::events::Topic;
use milkrun_domain::payment::PaymentGateway;
use milkrun_domain::ports::{AccessLookup, CheckoutRunner, EventHandler, Mailer, SmsSender};
use milkrun_domain::report::{DEFAULT_COMMISSION_BPS, MAX_COMMISSION_BPS};
use milkrun_domain::values::Email;
use milkrun_store::{Stores, TableSpec};

/// Everything a service may be built from, over one host's technology.
#[derive(Clone)]
pub struct Adapters {
    pub stores: Stores,
    pub mailer: Arc<dyn Mailer>,
    /// Text messages (SNS in AWS, an `sms/` folder locally); built wherever mail is.
    pub sms: Arc<dyn SmsSender>,
    /// The keys this function was given (a function without the private key cannot mint).
    pub keys: Arc<KeyRing>,
    /// What an account may do now, cached briefly: authorization reads it on every request.
    pub access: Arc<dyn AccessLookup>,
    /// Starts checkout executions (Step Functions in AWS, the ASL runner locally).
    pub checkout: Arc<dyn CheckoutRunner>,
    /// Takes and refunds money (the simulated gateway of SPEC §5 on every host so far).
    pub gateway: Arc<dyn PaymentGateway>,
    pub settings: Settings,
}

/// Configuration services read, validated where it is read in (a missing required setting
/// stops the start, never a silent default in AWS).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Link prefix in the welcome mail; the verification token is appended.
    pub verify_email_url: String,
    /// Link prefix of the unsubscribe link in promotional mail; the token is appended.
    pub unsubscribe_url: String,
    /// The administrator to create at start unless the email is taken.
    pub admin: Option<AdminAccount>,
    /// The key payment-gateway webhooks are signed with (HMAC-SHA256): an SSM SecureString
    /// in AWS, `MILKRUN_WEBHOOK_SECRET` or a file generated in the data folder locally. The
    /// payment service refuses to start without it.
    pub webhook_secret: Option<WebhookSecret>,
    /// Where the daily report goes and the commission settlements take.
    pub reports: ReportSettings,
}

/// What the daily report and vendor settlements are configured with, read by every host
/// from the same `MILKRUN_*` names ([`ReportSettings::from_env`]).
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// Where the daily report is mailed; `None` sends none (the job says so).
    pub to: Option<Email>,
    /// The platform's commission in basis points (800 = 8 %), at most 10,000.
    pub commission_bps: u32,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            to: None,
            commission_bps: DEFAULT_COMMISSION_BPS,
        }
    }
}

impl ReportSettings {
    /// `MILKRUN_REPORT_EMAIL` (else `MILKRUN_ADMIN_EMAIL`) and `MILKRUN_COMMISSION_BPS`
    /// (default 800). A malformed value stops the start rather than mail no one or
    /// settle at a wrong rate.
    pub fn from_env() -> Result<Self, String> {
        let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let to = env("MILKRUN_REPORT_EMAIL")
            .or_else(|| env("MILKRUN_ADMIN_EMAIL"))
            .map(|raw| Email::parse(&raw).map_err(|e| format!("the report email {e}")))
            .transpose()?;
        let commission_bps = match env("MILKRUN_COMMISSION_BPS") {
            None => DEFAULT_COMMISSION_BPS,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|bps| *bps <= MAX_COMMISSION_BPS)
                .ok_or("MILKRUN_COMMISSION_BPS must be basis points from 0 to 10000")?,
        };
        Ok(Self { to, commission_bps })
    }
}

/// The webhook signing secret: never printed, compared only through an HMAC.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// The shortest secret accepted: a shorter one could be guessed.
    pub const MIN_BYTES: usize = 16;

    /// `None` for a secret shorter than [`Self::MIN_BYTES`] (surrounding white space, as a
    /// file or parameter may carry, is not part of it).
    pub fn new(secret: &str) -> Option<Self> {
        let secret = secret.trim();
        (secret.len() >= Self::MIN_BYTES).then(|| Self(secret.as_bytes().to_vec()))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
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

/// What a service needs configured; a host checks it at start and gives it nothing more.
pub struct Needs {
    /// The tables it reads or writes (an HTTP service also reads the users table, for
    /// authorization, without naming it here).
    pub tables: &'static [&'static TableSpec],
    /// Whether it sends mail (needs a sender and the links mail carries).
    pub mail: bool,
    /// Whether it mints access tokens (holds the private key): the user service only.
    pub signing: bool,
    /// Whether it mints or checks email verification tokens.
    pub verification: bool,
    /// Whether it starts checkout executions (needs the state machine).
    pub checkout: bool,
}

/// An HTTP service: its routes over adapters, and what it needs.
pub struct HttpService {
    /// The Lambda function's binary name in AWS.
    pub name: &'static str,
    pub needs: Needs,
    /// Its routes over adapters: plain axum, so a function carries no OpenAPI code (the
    /// registry documents them from each crate's `documented()`).
    pub api: fn(&Adapters) -> axum::Router,
    pub start: Option<StartHook>,
}

/// What a job's run reports (counts, as JSON), or the code it failed with.
pub type JobRun = BoxFuture<'static, Result<serde_json::Value, DomainError>>;

/// A scheduled job (EventBridge in AWS, `milkrun job …` locally): one run, given the
/// adapters and the correlation id the run's effects carry.
pub struct JobService {
    pub name: &'static str,
    pub needs: Needs,
    pub run: fn(Adapters, String) -> JobRun,
}

/// An event consumer: which topics feed it, and the handler over adapters.
pub struct ConsumerService {
    pub name: &'static str,
    pub needs: Needs,
    pub topics: &'static [Topic],
    pub handler: fn(&Adapters) -> Arc<dyn EventHandler>,
}
