//! `milkrun serve`: every service's router merged onto one socket, every consumer on the
//! in-process bus, and the outbox relay delivering what was committed, over one data folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use milkrun_local::LocalHost;
use milkrun_platform::{AdminAccount, Settings};
use milkrun_tool::demo;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Folder for the database, the generated JWT secret and the mail outbox.
    #[arg(long, default_value = "./.milkrun")]
    pub data: PathBuf,
    /// Load the demo catalog (vendors, products, stock) unless it is there already.
    #[arg(long)]
    demo: bool,
}

/// The local settings: the same `MILKRUN_*` names the Lambda functions read.
pub fn settings(addr: Option<SocketAddr>) -> Settings {
    let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let verify_email_url = env("MILKRUN_VERIFY_EMAIL_URL").unwrap_or_else(|| {
        let addr = addr.map_or_else(|| "127.0.0.1:3000".to_owned(), |a| a.to_string());
        format!("http://{addr}/users/verify-email?token=")
    });
    let admin = env("MILKRUN_ADMIN_EMAIL")
        .zip(env("MILKRUN_ADMIN_PASSWORD"))
        .map(|(email, password)| AdminAccount { email, password });
    Settings {
        verify_email_url,
        admin,
    }
}

/// The local host over `data`, with every consumer subscribed to the bus.
pub async fn open(data: &Path, addr: Option<SocketAddr>) -> Result<LocalHost, BoxError> {
    let host = LocalHost::open(data, settings(addr)).await?;
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
