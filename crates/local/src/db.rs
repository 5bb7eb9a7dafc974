//! One SQLite database file, opened once and shared by every store; calls run on the
//! blocking pool so the async workers never wait on disk.

use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use milkrun_domain::StoreError;
use rusqlite::Connection;

#[derive(Clone)]
pub struct Database {
    connection: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    user_id    TEXT PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS users_newest_first ON users (created_at DESC, user_id DESC);
CREATE TABLE IF NOT EXISTS vendors (
    vendor_id  TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    is_active  INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS vendors_active_newest_first ON vendors (is_active, created_at DESC, vendor_id DESC);
CREATE TABLE IF NOT EXISTS vendor_areas (
    pincode   TEXT NOT NULL,
    vendor_id TEXT NOT NULL REFERENCES vendors (vendor_id),
    PRIMARY KEY (pincode, vendor_id)
);
CREATE TABLE IF NOT EXISTS products (
    product_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    is_active  INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS products_active_newest_first ON products (is_active, created_at DESC, product_id DESC);
CREATE TABLE IF NOT EXISTS audit (
    audit_id  TEXT PRIMARY KEY,
    entity_id TEXT NOT NULL,
    at        TEXT NOT NULL,
    doc       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_entity ON audit (entity_id, at DESC, audit_id DESC);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TABLE IF NOT EXISTS inventory (
    vendor_id           TEXT NOT NULL,
    product_id          TEXT NOT NULL,
    variant_id          TEXT NOT NULL,
    stock               INTEGER NOT NULL CHECK (stock >= 0),
    reserved            INTEGER NOT NULL CHECK (reserved >= 0),
    low_stock_threshold INTEGER NOT NULL CHECK (low_stock_threshold >= 0),
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (vendor_id, product_id, variant_id)
);
CREATE TABLE IF NOT EXISTS stock_reservations (
    order_id   TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    lines      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
";

impl Database {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection =
            Connection::open(path).map_err(|e| StoreError::backend("opening the database", e))?;
        Self::prepare(connection)
    }

    /// A private database that lives as long as this value, for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        let connection = Connection::open_in_memory()
            .map_err(|e| StoreError::backend("opening the database", e))?;
        Self::prepare(connection)
    }

    fn prepare(connection: Connection) -> Result<Self, StoreError> {
        // WAL: readers never block the writer; NORMAL sync is durable at each checkpoint
        // and cannot corrupt the file.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
            .and_then(|()| connection.execute_batch(SCHEMA))
            .map_err(|e| StoreError::backend("preparing the schema", e))?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `work` with the connection on the blocking pool. SQLite serialises writers, and
    /// so does this mutex: each call is one transaction's worth of work.
    pub async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            work(&mut guard)
        })
        .await
        .map_err(|e| StoreError::backend("running a database call", e))?
    }
}

pub(crate) fn sql_error(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |error| StoreError::backend(context, error)
}

pub(crate) fn json_error(context: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |error| StoreError::backend(context, error)
}

/// An opaque position in a newest-first listing: the last item's (sort key, id).
pub(crate) fn encode_cursor(sort_key: &str, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!([sort_key, id]).to_string())
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<(String, String), StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)
}
