//! Adapters on the AWS SDKs. Clients are built once at init from the standard SDK
//! configuration, so `AWS_ENDPOINT_URL` points them at an emulator such as moto.

mod attributes;
pub mod config;
pub mod cursor;
pub mod dynamodb_audit;
pub mod dynamodb_inventory;
pub mod dynamodb_products;
pub mod dynamodb_users;
pub mod dynamodb_vendors;
pub mod ses_mailer;
pub mod sns_bus;
pub mod sparse_index;
pub mod transaction;

pub use config::{CatalogStores, ConfigError, audit_trail, jwt_keys, required_env, sdk_config};
pub use dynamodb_audit::DynamoDbAuditLog;
pub use dynamodb_inventory::DynamoDbInventory;
pub use dynamodb_products::DynamoDbProducts;
pub use dynamodb_users::DynamoDbUsers;
pub use dynamodb_vendors::DynamoDbVendors;
pub use ses_mailer::SesMailer;
pub use sns_bus::SnsBus;
