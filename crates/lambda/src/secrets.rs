//! Keys and secrets from SSM Parameter Store, read once at init. The template gives a
//! function only the *names* of the parameters it may read (and IAM only those); a name
//! given with no parameter behind it stops the start — never a default.

use std::collections::HashMap;

use aws_sdk_ssm::Client;
use milkrun_auth::KeyRing;
use milkrun_auth::tokens::DEFAULT_ACCESS_TTL_SECS;
use milkrun_aws::required_env;
use milkrun_platform::Needs;

use crate::BoxError;

/// Which parameter a function's setting names, by the variable that carries the name.
const VERIFYING_KEY: &str = "VERIFYING_KEY_PARAMETER";
const CURSOR_KEY: &str = "CURSOR_KEY_PARAMETER";
const SIGNING_KEY: &str = "SIGNING_KEY_PARAMETER";
const VERIFICATION_KEY: &str = "VERIFICATION_KEY_PARAMETER";
pub const ADMIN_PASSWORD: &str = "ADMIN_PASSWORD_PARAMETER";
/// The payment-gateway webhook secret (the payment function; its start fails without it).
pub const WEBHOOK_SECRET: &str = "WEBHOOK_SECRET_PARAMETER";

/// The values of the named parameters (decrypted), in one call.
async fn read(client: &Client, names: &[String]) -> Result<HashMap<String, String>, BoxError> {
    let output = client
        .get_parameters()
        .set_names(Some(names.to_vec()))
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| format!("reading parameters: {}", e.into_service_error()))?;
    if let Some(missing) = output.invalid_parameters().first() {
        return Err(format!("parameter {missing} does not exist").into());
    }
    Ok(output
        .parameters()
        .iter()
        .filter_map(|p| Some((p.name()?.to_owned(), p.value()?.to_owned())))
        .collect())
}

/// The parameter names this function was given: those `needs` asks for, plus the admin
/// password and the webhook secret when their variables are set (the user function,
/// optionally; the payment function, whose start hook requires it).
fn wanted(needs: &Needs) -> Result<Vec<(&'static str, String)>, BoxError> {
    let mut wanted = vec![
        (VERIFYING_KEY, required_env(VERIFYING_KEY)?),
        (CURSOR_KEY, required_env(CURSOR_KEY)?),
    ];
    if needs.signing {
        wanted.push((SIGNING_KEY, required_env(SIGNING_KEY)?));
    }
    if needs.verification {
        wanted.push((VERIFICATION_KEY, required_env(VERIFICATION_KEY)?));
    }
    if let Ok(name) = required_env(ADMIN_PASSWORD) {
        wanted.push((ADMIN_PASSWORD, name));
    }
    if let Ok(name) = required_env(WEBHOOK_SECRET) {
        wanted.push((WEBHOOK_SECRET, name));
    }
    Ok(wanted)
}

/// The keys and secrets of this function, by setting.
pub struct Secrets {
    pub keys: KeyRing,
    pub admin_password: Option<String>,
    pub webhook_secret: Option<String>,
}

pub async fn load(client: &Client, needs: &Needs) -> Result<Secrets, BoxError> {
    let wanted = wanted(needs)?;
    let names: Vec<String> = wanted.iter().map(|(_, name)| name.clone()).collect();
    let values = read(client, &names).await?;
    let value = |setting: &str| {
        wanted
            .iter()
            .find(|(s, _)| *s == setting)
            .and_then(|(_, name)| values.get(name))
            .map(String::as_str)
    };
    let keys = KeyRing::given(
        value(VERIFYING_KEY).ok_or("no verifying key")?,
        value(CURSOR_KEY).ok_or("no cursor key")?.as_bytes(),
        value(SIGNING_KEY),
        value(VERIFICATION_KEY).map(str::as_bytes),
        DEFAULT_ACCESS_TTL_SECS,
    )?;
    Ok(Secrets {
        keys,
        admin_password: value(ADMIN_PASSWORD).map(str::to_owned),
        webhook_secret: value(WEBHOOK_SECRET).map(str::to_owned),
    })
}

/// The access-token verifier alone (the authorizer: it holds nothing else).
pub async fn verifier() -> Result<milkrun_auth::TokenVerifier, BoxError> {
    let client = Client::new(&milkrun_aws::sdk_config().await);
    let name = required_env(VERIFYING_KEY)?;
    let values = read(&client, std::slice::from_ref(&name)).await?;
    let pem = values.get(&name).ok_or("no verifying key")?;
    Ok(milkrun_auth::TokenVerifier::from_public_pem(pem)?)
}
