//! The user Lambda: wiring only. Clients and configuration are built once per cold start.

use std::sync::Arc;

use milkrun_aws::{
    DynamoDbUsers, SesMailer, SnsBus, audit_trail, jwt_keys, required_env, sdk_config,
};
use milkrun_user::{MailSettings, UserService};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    milkrun_http::telemetry::init();
    let keys = jwt_keys()?;
    let aws = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let store = DynamoDbUsers::new(dynamodb.clone(), required_env("USERS_TABLE")?);
    let events = SnsBus::from_env(aws_sdk_sns::Client::new(&aws));
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&aws), required_env("MAIL_FROM")?);
    let mail = MailSettings {
        verify_email_url: required_env("VERIFY_EMAIL_URL")?,
    };
    let service = UserService::new(
        Arc::new(store),
        Arc::new(events),
        Arc::new(mailer),
        keys.clone(),
        mail,
        audit_trail(&dynamodb)?,
    );
    bootstrap_admin(&service).await?;
    milkrun_http::serve_lambda(milkrun_http::finish(
        milkrun_user::api(service).split_for_parts().0,
        keys,
    ))
    .await
}

/// The same `MILKRUN_ADMIN_*` settings as the local server; idempotent across cold starts.
async fn bootstrap_admin(service: &UserService) -> Result<(), lambda_http::Error> {
    let email = std::env::var("MILKRUN_ADMIN_EMAIL").unwrap_or_default();
    let password = std::env::var("MILKRUN_ADMIN_PASSWORD").unwrap_or_default();
    if email.is_empty() || password.is_empty() {
        return Ok(());
    }
    service
        .ensure_admin(&email, &password)
        .await
        .map_err(|e| format!("admin bootstrap failed: {e:?}"))?;
    Ok(())
}
