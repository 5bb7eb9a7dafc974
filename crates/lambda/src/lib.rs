//! The AWS composition root and the Lambda hosts. Every function's `main.rs` is one call
//! into here: adapters are built once per cold start from the environment the template
//! gives the function (a missing setting stops the start), then the runtime loop runs.

pub mod consumer;
pub mod emf;
pub mod errors;
pub mod publisher;
pub mod secrets;

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_aws::{DynamoDbItemStore, SesMailer, SnsSms, StepFunctionsRunner, required_env};
use milkrun_checkout::SimulatedGateway;
use milkrun_domain::StoreError;
use milkrun_domain::ports::{CheckoutRunner, CheckoutStart, Mail, Mailer, Sms, SmsSender};
use milkrun_platform::access::{CachedAccess, DEFAULT_CACHE_AGE};
use milkrun_platform::{Adapters, AdminAccount, HttpService, Needs, Settings, WebhookSecret};
use milkrun_store::table::{TableSpec, USERS};
use milkrun_store::{ItemStore, Key, Stores};

pub use consumer::{handle_batch, run_consumer};
pub use emf::run_runtime as run;
pub use errors::{TaskError, diagnostic};
pub use publisher::{publish_records, run_publisher};

pub use milkrun_aws::sdk_config;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// JSON logs for a Lambda binary that wires its own handler.
pub fn telemetry_init() {
    milkrun_http::telemetry::init();
}

/// A function that declared it sends no mail, asked to: a wiring mistake, loudly.
struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn send(&self, _mail: &Mail) -> Result<(), StoreError> {
        Err(StoreError::backend_message(
            "sending mail",
            "this function is not configured to send mail",
        ))
    }
}

/// A function that declared it sends no mail, asked for a text message: a wiring mistake.
struct NoSms;

#[async_trait]
impl SmsSender for NoSms {
    async fn send(&self, _sms: &Sms) -> Result<(), StoreError> {
        Err(StoreError::backend_message(
            "sending a text message",
            "this function is not configured to send messages",
        ))
    }
}

/// A function that declared it starts no checkout, asked to: a wiring mistake, loudly.
struct NoCheckout;

#[async_trait]
impl CheckoutRunner for NoCheckout {
    async fn start(&self, _start: &CheckoutStart) -> Result<(), StoreError> {
        Err(StoreError::backend_message(
            "starting checkout",
            "this function is not configured to start checkout executions",
        ))
    }
}

/// The adapters `needs` asks for, from this function's environment (and, for keys and
/// secrets, from the SSM parameters it names). `reads_users` adds the users table, which
/// every HTTP function reads to authorize from the account as it is now.
pub async fn adapters(needs: &Needs, reads_users: bool) -> Result<Adapters, BoxError> {
    let aws = sdk_config().await;
    let mut tables: Vec<&'static TableSpec> = needs.tables.to_vec();
    if reads_users && !tables.contains(&&USERS) {
        tables.push(&USERS);
    }
    let items = DynamoDbItemStore::from_env(aws_sdk_dynamodb::Client::new(&aws), &tables)?;
    // Two endpoints, two connections: opening the DynamoDB one and reading the SSM
    // parameters at once saves init one round trip (and, in AWS, one TLS handshake).
    let ssm = aws_sdk_ssm::Client::new(&aws);
    // The warm-up reads a table the function's IAM policy lets it read by key: accounts for
    // an HTTP function (authorization reads them), else its first table (the template grants
    // that one read of the warm-up key as `WarmTheConnection`).
    let warm = if reads_users { &USERS } else { tables[0] };
    let ((), secrets) = tokio::join!(warm_up(&items, warm), secrets::load(&ssm, needs));
    let secrets = secrets?;
    let messaging = if needs.mail {
        let ses = aws_sdk_sesv2::Client::new(&aws);
        messaging(ses, aws_sdk_sns::Client::new(&aws))?
    } else {
        Messaging::none()
    };
    let checkout: Arc<dyn CheckoutRunner> = match needs.checkout {
        true => Arc::new(StepFunctionsRunner::from_env(aws_sdk_sfn::Client::new(
            &aws,
        ))?),
        false => Arc::new(NoCheckout),
    };
    let webhook_secret = secrets
        .webhook_secret
        .as_deref()
        .map(|secret| {
            WebhookSecret::new(secret).ok_or(format!(
                "the {} parameter holds fewer than {} bytes",
                secrets::WEBHOOK_SECRET,
                WebhookSecret::MIN_BYTES
            ))
        })
        .transpose()?;
    let stores = Stores::over(Arc::new(items));
    Ok(Adapters {
        checkout,
        gateway: Arc::new(SimulatedGateway::new()),
        access: Arc::new(CachedAccess::new(stores.users.clone(), DEFAULT_CACHE_AGE)),
        stores,
        mailer: messaging.mailer,
        sms: messaging.sms,
        keys: Arc::new(secrets.keys),
        settings: Settings {
            verify_email_url: messaging.verify_email_url,
            unsubscribe_url: messaging.unsubscribe_url,
            admin: admin_account(secrets.admin_password),
            webhook_secret,
            reports: milkrun_platform::ReportSettings::from_env()?,
        },
    })
}

/// How a function that sends messages sends them, and the links its mail carries.
struct Messaging {
    mailer: Arc<dyn Mailer>,
    sms: Arc<dyn SmsSender>,
    verify_email_url: String,
    unsubscribe_url: String,
}

impl Messaging {
    fn none() -> Self {
        Self {
            mailer: Arc::new(NoMail),
            sms: Arc::new(NoSms),
            verify_email_url: String::new(),
            unsubscribe_url: String::new(),
        }
    }
}

/// SES for mail and SNS for text messages (SMS is optional per customer, so whoever mails
/// may text), with the links mail carries.
fn messaging(ses: aws_sdk_sesv2::Client, sns: aws_sdk_sns::Client) -> Result<Messaging, BoxError> {
    Ok(Messaging {
        mailer: Arc::new(SesMailer::new(ses, required_env("MAIL_FROM")?)),
        sms: Arc::new(SnsSms::new(sns)),
        verify_email_url: required_env("VERIFY_EMAIL_URL")?,
        unsubscribe_url: required_env("UNSUBSCRIBE_URL")?,
    })
}

/// The key the warm-up reads, which no item has. template.yaml's `WarmTheConnection`
/// statements allow reading this partition key alone (`dynamodb:LeadingKeys`).
const WARM_UP_KEY: &str = "WARM-UP";

/// One cheap read during init, which has a full CPU, so that the TLS connection to
/// DynamoDB is open before the first request (at 128 MB, a cold handshake inside the first
/// request is where cold-start time goes). A failure here is only logged: the request will
/// say what is wrong.
async fn warm_up(items: &DynamoDbItemStore, table: &'static TableSpec) {
    let sentinel = match table.sort_key {
        Some(_) => Key::with_sort(WARM_UP_KEY, WARM_UP_KEY),
        None => Key::partition(WARM_UP_KEY),
    };
    if let Err(error) = items.get(table, &sentinel, false).await {
        tracing::warn!(%error, "warming the DynamoDB connection failed");
    }
}

/// `MILKRUN_ADMIN_EMAIL` with the password from its SSM parameter, when both are there.
fn admin_account(password: Option<String>) -> Option<AdminAccount> {
    let email = std::env::var("MILKRUN_ADMIN_EMAIL").unwrap_or_default();
    let password = password.unwrap_or_default();
    (!email.is_empty() && !password.is_empty()).then_some(AdminAccount { email, password })
}

/// Runs `service`'s routes as this Lambda function's handler.
pub async fn serve_http(service: &'static HttpService) -> Result<(), lambda_http::Error> {
    milkrun_http::telemetry::init();
    let adapters = adapters(&service.needs, true).await?;
    if let Some(start) = service.start {
        start(adapters.clone())
            .await
            .map_err(|e| format!("{} failed to start: {e}", service.name))?;
    }
    let routes = (service.api)(&adapters);
    let auth = milkrun_http::Auth {
        keys: adapters.keys.clone(),
        access: adapters.access.clone(),
    };
    let app = milkrun_http::finish(routes, auth);
    let app = milkrun_http::lambda_service(app);
    run(lambda_runtime::Runtime::new(lambda_http::Adapter::from(
        app,
    )))
    .await
}

/// Runs `job` as this Lambda function's handler (a scheduled event starts each run). The
/// event's id is the run's correlation id; a failed run fails the invocation with its code.
pub async fn run_job(
    job: &'static milkrun_platform::JobService,
) -> Result<(), lambda_runtime::Error> {
    milkrun_http::telemetry::init();
    let adapters = adapters(&job.needs, false).await?;
    run(lambda_runtime::Runtime::new(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let adapters = adapters.clone();
            async move {
                let correlation_id = event.payload["id"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or(event.context.request_id);
                (job.run)(adapters, correlation_id)
                    .await
                    .map_err(diagnostic)
            }
        },
    )))
    .await
}

/// Runs the checkout task handler as this Lambda function's handler: each Task state's
/// `Parameters` in, the step's answer out, or its failure with the stable error name the
/// definition's Retry and Catch match as the `errorType` and a cause that never carries a
/// store's or backend's words (the same [`TaskError`] the local interpreter gets).
pub async fn run_checkout_tasks(needs: &Needs) -> Result<(), lambda_runtime::Error> {
    milkrun_http::telemetry::init();
    let adapters = adapters(needs, false).await?;
    let ports = milkrun_checkout::CheckoutPorts::from_stores(&adapters.stores, adapters.gateway);
    let rules = milkrun_checkout::fraud_rules_from_env()?;
    let tasks = Arc::new(milkrun_checkout::CheckoutTasks::new(ports, rules));
    run(lambda_runtime::Runtime::new(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<milkrun_checkout::TaskInput>| {
            let tasks = tasks.clone();
            async move { tasks.run_input(&event.payload).await.map_err(diagnostic) }
        },
    )))
    .await
}

#[cfg(test)]
mod tests {
    use super::WARM_UP_KEY;

    /// A function granted the warm-up read for it alone may read that key and no other: a
    /// renamed key would be denied (and warn on every cold start), a missing condition
    /// would let a writer read its whole table.
    #[test]
    fn the_templates_warm_up_grants_read_the_warm_up_key_alone() {
        let template = include_str!("../../../template.yaml");
        let grants: Vec<&str> = template
            .split("- Sid: WarmTheConnection")
            .skip(1)
            .map(|rest| rest.split("- Sid:").next().unwrap_or(rest))
            .map(|rest| rest.split("Events:").next().unwrap_or(rest))
            .collect();
        assert!(!grants.is_empty(), "no WarmTheConnection statement found");
        let condition = format!("dynamodb:LeadingKeys: [\"{WARM_UP_KEY}\"]");
        for grant in grants {
            assert!(grant.contains("Action: dynamodb:GetItem"), "{grant}");
            assert!(grant.contains("ForAllValues:StringEquals:"), "{grant}");
            assert!(grant.contains(&condition), "{grant}");
        }
    }
}
