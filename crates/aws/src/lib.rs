//! Adapters on the AWS SDKs: the DynamoDB item store, SNS, SES. Clients are built once at
//! init from the standard SDK configuration, so `AWS_ENDPOINT_URL` points them at an
//! emulator such as moto.

pub mod config;
pub mod dynamodb_store;
mod expressions;
pub mod https;
pub mod ses_mailer;
pub mod sns_bus;
pub mod sns_sms;
pub mod step_functions;

pub use config::{ConfigError, required_env, sdk_config};
pub use dynamodb_store::DynamoDbItemStore;
pub use ses_mailer::SesMailer;
pub use sns_bus::SnsBus;
pub use sns_sms::SnsSms;
pub use step_functions::StepFunctionsRunner;
