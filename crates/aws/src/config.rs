//! Configuration read once at init: a missing setting is an error at start, never a default.

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
