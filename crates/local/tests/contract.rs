//! The embedded adapters against the shared contract suites.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use milkrun_contract::events::PublishedProbe;
use milkrun_domain::events::EventEnvelope;
use milkrun_domain::ports::{
    AuditLog, InventoryStore, Mail, Mailer, ProductStore, UserLookup, UserRegistry, UserStore,
    VendorStore,
};
use milkrun_domain::values::Email;
use milkrun_local::{
    Database, InProcessBus, OutboxMailer, SqliteAuditLog, SqliteInventory, SqliteProducts,
    SqliteUsers, SqliteVendors,
};

async fn sqlite_users() -> Arc<dyn UserStore> {
    Arc::new(SqliteUsers::new(Database::in_memory().unwrap()))
}

mod sqlite_users {
    use super::*;
    milkrun_contract::user_store_contract!(sqlite_users().await);
}

async fn sqlite_inventory() -> Arc<dyn InventoryStore> {
    Arc::new(SqliteInventory::new(Database::in_memory().unwrap()))
}

mod sqlite_inventory {
    use super::*;
    milkrun_contract::inventory_store_contract!(sqlite_inventory().await);
}

async fn sqlite_vendors() -> Arc<dyn VendorStore> {
    Arc::new(SqliteVendors::new(Database::in_memory().unwrap()))
}

mod sqlite_vendors {
    use super::*;
    milkrun_contract::vendor_store_contract!(sqlite_vendors().await);
}

async fn sqlite_products() -> Arc<dyn ProductStore> {
    Arc::new(SqliteProducts::new(Database::in_memory().unwrap()))
}

mod sqlite_products {
    use super::*;
    milkrun_contract::product_store_contract!(sqlite_products().await);
}

async fn sqlite_audit() -> Arc<dyn AuditLog> {
    Arc::new(SqliteAuditLog::new(Database::in_memory().unwrap()))
}

mod sqlite_audit {
    use super::*;
    milkrun_contract::audit_log_contract!(sqlite_audit().await);
}

struct BusProbe(InProcessBus);

impl PublishedProbe for BusProbe {
    fn received(&self) -> Pin<Box<dyn Future<Output = Vec<EventEnvelope>> + Send + '_>> {
        Box::pin(async move { self.0.published() })
    }
}

#[tokio::test]
async fn in_process_bus_delivers_whole_envelopes() {
    let bus = InProcessBus::new();
    milkrun_contract::events::published_events_arrive_whole(
        Arc::new(bus.clone()),
        Arc::new(BusProbe(bus)),
    )
    .await;
}

#[tokio::test]
async fn sqlite_users_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("milkrun.db");
    let user = milkrun_contract::users::sample_user("persist");
    SqliteUsers::new(Database::open(&path).unwrap())
        .create(&user)
        .await
        .unwrap();
    let reopened = SqliteUsers::new(Database::open(&path).unwrap());
    assert_eq!(reopened.by_id(user.user_id).await.unwrap(), Some(user));
}

#[tokio::test]
async fn outbox_writes_one_file_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(dir.path().join("outbox")).unwrap();
    let mail = Mail {
        to: Email::parse("asha@example.com").unwrap(),
        subject: "Hello".into(),
        body: "Fresh milk.\n".into(),
    };
    mailer.send(&mail).await.unwrap();
    mailer.send(&mail).await.unwrap();
    let files: Vec<_> = std::fs::read_dir(mailer.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.starts_with("To: asha@example.com\nSubject: Hello\n"),
        "{text}"
    );
    assert!(text.ends_with("\n\nFresh milk.\n"));
}

#[tokio::test]
async fn the_sqlite_audit_table_refuses_updates_and_deletes() {
    let db = Database::in_memory().unwrap();
    let log = SqliteAuditLog::new(db.clone());
    let context = milkrun_domain::audit::AuditContext {
        user_id: None,
        role: None,
        origin: milkrun_domain::user::ClientOrigin::default(),
        correlation_id: "c".into(),
    };
    log.append(&context.entry("USER_REGISTERED", "USER", "u-1"))
        .await
        .unwrap();
    let refused = db
        .call(|conn| {
            Ok((
                conn.execute("UPDATE audit SET doc = '{}'", []).is_err(),
                conn.execute("DELETE FROM audit", []).is_err(),
            ))
        })
        .await
        .unwrap();
    assert_eq!(
        refused,
        (true, true),
        "append-only, even for a direct statement"
    );
}
