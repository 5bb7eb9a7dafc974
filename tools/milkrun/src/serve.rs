//! `milkrun serve`: every service's router merged onto one socket, every consumer on the
//! in-process bus, and the outbox relay delivering what was committed, over one data folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use milkrun_local::LocalHost;
use milkrun_platform::{AdminAccount, Settings, WebhookSecret};
use milkrun_tool::demo;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Folder for the database, the generated JWT and webhook secrets and the mail outbox.
    #[arg(long, default_value = "./.milkrun")]
    pub data: PathBuf,
    /// Load the demo catalog (vendors, products, stock) unless it is there already.
    #[arg(long)]
    demo: bool,
}

/// The local settings: the same `MILKRUN_*` names the Lambda functions read, and the
/// webhook secret of the data folder `data`.
pub fn settings(data: &Path, addr: Option<SocketAddr>) -> Result<Settings, BoxError> {
    let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let addr = addr.map_or_else(|| "127.0.0.1:3000".to_owned(), |a| a.to_string());
    let verify_email_url = env("MILKRUN_VERIFY_EMAIL_URL")
        .unwrap_or_else(|| format!("http://{addr}/users/verify-email?token="));
    let unsubscribe_url = env("MILKRUN_UNSUBSCRIBE_URL")
        .unwrap_or_else(|| format!("http://{addr}/notifications/unsubscribe?token="));
    let admin = env("MILKRUN_ADMIN_EMAIL")
        .zip(env("MILKRUN_ADMIN_PASSWORD"))
        .map(|(email, password)| AdminAccount { email, password });
    Ok(Settings {
        verify_email_url,
        unsubscribe_url,
        admin,
        webhook_secret: Some(webhook_secret(data)?),
        reports: milkrun_platform::ReportSettings::from_env()?,
    })
}

/// The key gateway webhooks are signed with locally: `MILKRUN_WEBHOOK_SECRET` (at least 16
/// bytes), else a random secret generated once into `<data>/webhook-secret` (readable by its
/// owner only), so no well-known default can sign a webhook to a local server. Sign a test
/// webhook with the file's contents: `X-Signature: sha256=<hex HMAC-SHA256 of the body>`.
fn webhook_secret(data: &Path) -> Result<WebhookSecret, BoxError> {
    const FILE: &str = "webhook-secret";
    if let Some(secret) = std::env::var("MILKRUN_WEBHOOK_SECRET")
        .ok()
        .filter(|v| !v.is_empty())
    {
        return WebhookSecret::new(&secret).ok_or_else(|| {
            format!(
                "MILKRUN_WEBHOOK_SECRET must be at least {} bytes",
                WebhookSecret::MIN_BYTES
            )
            .into()
        });
    }
    let path = data.join(FILE);
    let read = |path: &Path| -> Result<WebhookSecret, BoxError> {
        let stored = std::fs::read_to_string(path)?;
        WebhookSecret::new(&stored)
            .ok_or_else(|| format!("{} holds no usable webhook secret", path.display()).into())
    };
    if path.exists() {
        return read(&path);
    }
    std::fs::create_dir_all(data)?;
    // 244 random bits from the OS generator, as 64 hex digits.
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, secret.as_bytes())?;
            tracing::info!(file = %path.display(), "generated a webhook secret");
            Ok(WebhookSecret::new(&secret).expect("64 hex digits"))
        }
        // Another process generated it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read(&path),
        Err(error) => Err(error.into()),
    }
}

/// The local host over `data`, with every consumer subscribed to the bus.
pub async fn open(data: &Path, addr: Option<SocketAddr>) -> Result<LocalHost, BoxError> {
    let host = LocalHost::open(data, settings(data, addr)?).await?;
    host.subscribe(&milkrun_registry::CONSUMERS);
    Ok(host)
}

pub async fn run(args: ServeArgs) -> Result<(), BoxError> {
    let host = open(&args.data, Some(args.addr)).await?;
    milkrun_registry::start(&host.adapters)
        .await
        .map_err(|e| format!("start-up failed: {e}"))?;
    if args.demo {
        let created = demo::load(&host.adapters.stores).await?;
        tracing::info!(products_created = created, "demo catalog in place");
    }
    let _relay = host.start_relay();
    let resumed = host.resume_checkouts().await?;
    if resumed > 0 {
        tracing::info!(
            resumed,
            "checkouts a stopped process left mid-way started again"
        );
    }
    let app = milkrun_registry::app(&host.adapters);
    tracing::info!(data = %args.data.display(), "serving milkrun on http://{}", args.addr);
    milkrun_http::serve_socket(app, args.addr).await?;
    Ok(())
}
