//! Configuration read once at init: a missing setting is an error at start, never a default.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::https::Https1Client;

#[derive(Debug, thiserror::Error)]
#[error("missing required setting {0}: it is set by template.yaml")]
pub struct ConfigError(pub &'static str);

pub fn required_env(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError(name))
}

/// The SDK configuration from the environment, with the one HTTPS client that every SDK
/// client built from it shares (`crate::https`: hyper 1 over HTTP/1.1, rustls on *ring*), so
/// a binary carries a single HTTP/TLS stack.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_from(|name| std::env::var(name).ok(), Https1Client::new())
}

/// What Lambda gives every function, read without aws-config's provider chains: the region
/// (`AWS_REGION`, else `AWS_DEFAULT_REGION`), the execution role's keys (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), and `AWS_ENDPOINT_URL`, which points every
/// client at an emulator (moto). Without keys the first call fails, as it would with the
/// default chain finding none.
fn sdk_config_from(
    env: impl Fn(&str) -> Option<String>,
    http_client: impl aws_smithy_runtime_api::client::http::HttpClient + 'static,
) -> SdkConfig {
    let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
    let region = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION"));
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region.map(Region::new))
        .http_client(http_client);
    if let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        let keys = Credentials::new(key, secret, env("AWS_SESSION_TOKEN"), None, "Environment");
        config = config.credentials_provider(SharedCredentialsProvider::new(keys));
    }
    config.set_endpoint_url(env("AWS_ENDPOINT_URL"));
    config.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::ProvideCredentials as _;

    fn config(vars: &[(&str, &str)]) -> SdkConfig {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        sdk_config_from(env, Https1Client::new())
    }

    #[tokio::test]
    async fn reads_what_lambda_sets() {
        let config = config(&[
            ("AWS_REGION", "ap-south-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]);
        assert_eq!(config.region().map(|r| r.as_ref()), Some("ap-south-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(config.behavior_version().is_some() && config.http_client().is_some());
        let keys = config.credentials_provider().unwrap();
        let keys = keys.provide_credentials().await.unwrap();
        assert_eq!(
            (
                keys.access_key_id(),
                keys.secret_access_key(),
                keys.session_token()
            ),
            ("AKID", "secret", Some("token"))
        );
    }

    #[test]
    fn falls_back_to_the_default_region_and_aws_endpoints() {
        let config = config(&[
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", " "),
        ]);
        assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert_eq!(config.endpoint_url(), None);
        assert!(config.credentials_provider().is_none());
    }
}
