//! Configuration read once at init: a missing setting is an error at start, never a default.

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

#[derive(Debug, thiserror::Error)]
#[error("missing required setting {0}: it is set by template.yaml")]
pub struct ConfigError(pub &'static str);

pub fn required_env(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError(name))
}

/// The SDK configuration from the environment (region, credentials — the variables Lambda
/// sets, or a profile — and `AWS_ENDPOINT_URL`), with the one HTTPS client that every SDK
/// client and credential provider built from it shares: hyper 1 and rustls on *ring*, so a
/// binary carries a single HTTP/TLS stack (see the aws-* entries of the workspace manifest).
pub async fn sdk_config() -> aws_config::SdkConfig {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await
}
