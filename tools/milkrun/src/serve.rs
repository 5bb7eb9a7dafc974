//! `milkrun serve`: every service's router merged onto one socket, over embedded adapters.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use milkrun_auth::JwtKeys;
use milkrun_auth::jwt::DEFAULT_ACCESS_TTL_SECS;
use milkrun_domain::audit::AuditTrail;
use milkrun_inventory::InventoryService;
use milkrun_local::{
    Database, InProcessBus, OutboxMailer, SqliteAuditLog, SqliteInventory, SqliteProducts,
    SqliteUsers, SqliteVendors,
};
use milkrun_product::ProductService;
use milkrun_reporting::ReportingService;
use milkrun_user::{MailSettings, UserService};
use milkrun_vendor::VendorService;

use milkrun_tool::demo;
use rand::RngCore;

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

/// The embedded adapters over one data folder, shared by `serve` and the jobs.
pub struct LocalStores {
    pub db: Database,
    pub vendors: Arc<SqliteVendors>,
    pub products: Arc<SqliteProducts>,
    pub stock: Arc<SqliteInventory>,
    pub audit: AuditTrail,
}

impl LocalStores {
    pub fn open(data: &Path) -> Result<Self, BoxError> {
        std::fs::create_dir_all(data)?;
        let db = Database::open(&data.join("milkrun.db"))?;
        Ok(Self {
            vendors: Arc::new(SqliteVendors::new(db.clone())),
            products: Arc::new(SqliteProducts::new(db.clone())),
            stock: Arc::new(SqliteInventory::new(db.clone())),
            audit: AuditTrail::new(Arc::new(SqliteAuditLog::new(db.clone()))),
            db,
        })
    }
}

pub async fn run(args: ServeArgs) -> Result<(), BoxError> {
    let stores = LocalStores::open(&args.data)?;
    let keys = Arc::new(JwtKeys::new(
        &jwt_secret(&args.data)?,
        DEFAULT_ACCESS_TTL_SECS,
    )?);
    let bus = Arc::new(InProcessBus::new());
    let mailer = Arc::new(OutboxMailer::new(args.data.join("outbox"))?);
    let mail = MailSettings {
        verify_email_url: std::env::var("MILKRUN_VERIFY_EMAIL_URL")
            .unwrap_or_else(|_| format!("http://{}/verify-email?token=", args.addr)),
    };
    let users = UserService::new(
        Arc::new(SqliteUsers::new(stores.db.clone())),
        bus.clone(),
        mailer,
        keys.clone(),
        mail,
        stores.audit.clone(),
    );
    bootstrap_admin(&users).await?;
    if args.demo {
        load_demo(&stores).await?;
    }
    let app = milkrun_http::app(services(&stores, users, bus), keys);
    tracing::info!(data = %args.data.display(), "serving milkrun on http://{}", args.addr);
    milkrun_http::serve_socket(app, args.addr).await?;
    Ok(())
}

/// Every service over the embedded stores, merged into one router.
fn services(
    stores: &LocalStores,
    users: UserService,
    bus: Arc<InProcessBus>,
) -> utoipa_axum::router::OpenApiRouter {
    let vendors = VendorService::new(stores.vendors.clone(), stores.audit.clone());
    let products = ProductService::new(
        stores.products.clone(),
        stores.vendors.clone(),
        stores.stock.clone(),
        stores.audit.clone(),
    );
    let inventory = InventoryService::new(
        stores.stock.clone(),
        stores.products.clone(),
        stores.vendors.clone(),
        bus,
        stores.audit.clone(),
    );
    let reporting = ReportingService {
        audit: stores.audit.clone(),
    };
    milkrun_user::api(users)
        .merge(milkrun_vendor::api(vendors))
        .merge(milkrun_product::api(products))
        .merge(milkrun_inventory::api(inventory))
        .merge(milkrun_reporting::api(reporting))
}

async fn load_demo(stores: &LocalStores) -> Result<(), BoxError> {
    let demo = demo::DemoStores {
        vendors: stores.vendors.clone(),
        products: stores.products.clone(),
        stock: stores.stock.clone(),
    };
    let created = demo::load(&demo).await?;
    tracing::info!(products_created = created, "demo catalog in place");
    Ok(())
}

/// `MILKRUN_ADMIN_EMAIL` + `MILKRUN_ADMIN_PASSWORD` create that admin unless the email is taken.
async fn bootstrap_admin(users: &UserService) -> Result<(), BoxError> {
    let (Ok(email), Ok(password)) = (
        std::env::var("MILKRUN_ADMIN_EMAIL"),
        std::env::var("MILKRUN_ADMIN_PASSWORD"),
    ) else {
        return Ok(());
    };
    if users
        .ensure_admin(&email, &password)
        .await
        .map_err(|e| format!("admin bootstrap: {e:?}"))?
    {
        tracing::info!("created the administrator account from MILKRUN_ADMIN_EMAIL");
    }
    Ok(())
}

/// `MILKRUN_JWT_SECRET`, else a random secret generated once and kept in the data folder.
fn jwt_secret(data: &Path) -> Result<Vec<u8>, BoxError> {
    if let Ok(secret) = std::env::var("MILKRUN_JWT_SECRET") {
        return Ok(secret.into_bytes());
    }
    let path = data.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().as_bytes().to_vec());
    }
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::STANDARD.encode(bytes);
    write_private(&path, &secret)?;
    tracing::info!(file = %path.display(), "generated a JWT secret");
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}
