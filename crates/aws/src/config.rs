//! Configuration read once at init: a missing setting is an error at start, never a default.

use std::sync::Arc;

use milkrun_auth::JwtKeys;
use milkrun_auth::jwt::DEFAULT_ACCESS_TTL_SECS;
use milkrun_domain::audit::AuditTrail;

use crate::{DynamoDbAuditLog, DynamoDbInventory, DynamoDbProducts, DynamoDbVendors};

#[derive(Debug, thiserror::Error)]
#[error("missing required setting {0}: it is set by template.yaml")]
pub struct ConfigError(pub &'static str);

pub fn required_env(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError(name))
}

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The token keys every protected function verifies with, from `MILKRUN_JWT_SECRET`.
pub fn jwt_keys() -> Result<Arc<JwtKeys>, Box<dyn std::error::Error + Send + Sync>> {
    let secret = required_env("MILKRUN_JWT_SECRET")?;
    Ok(Arc::new(JwtKeys::new(
        secret.as_bytes(),
        DEFAULT_ACCESS_TTL_SECS,
    )?))
}

/// The audit trail in the table `AUDIT_TABLE` names.
pub fn audit_trail(client: &aws_sdk_dynamodb::Client) -> Result<AuditTrail, ConfigError> {
    let log = DynamoDbAuditLog::new(client.clone(), required_env("AUDIT_TABLE")?);
    Ok(AuditTrail::new(Arc::new(log)))
}

/// The catalog's three tables, which the product and inventory functions both read.
pub struct CatalogStores {
    pub vendors: Arc<DynamoDbVendors>,
    pub products: Arc<DynamoDbProducts>,
    pub stock: Arc<DynamoDbInventory>,
}

impl CatalogStores {
    /// From `VENDORS_TABLE`, `PRODUCTS_TABLE` and `INVENTORY_TABLE`.
    pub fn from_env(client: &aws_sdk_dynamodb::Client) -> Result<Self, ConfigError> {
        Ok(Self {
            vendors: Arc::new(DynamoDbVendors::new(
                client.clone(),
                required_env("VENDORS_TABLE")?,
            )),
            products: Arc::new(DynamoDbProducts::new(
                client.clone(),
                required_env("PRODUCTS_TABLE")?,
            )),
            stock: Arc::new(DynamoDbInventory::new(
                client.clone(),
                required_env("INVENTORY_TABLE")?,
            )),
        })
    }
}
