//! One SQLite database file, opened once and shared; calls run on the blocking pool so the
//! async workers never wait on disk. The schema is versioned (`PRAGMA user_version`): every
//! table of [`milkrun_store::table::ALL`] is created from its spec, and a data folder of an
//! earlier release is migrated when it is opened (see `legacy`).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use milkrun_domain::StoreError;
use milkrun_store::TableSpec;
use rusqlite::Connection;

/// The schema this code writes. 0: the first release's per-entity tables (or an empty
/// file); 1: one item table per `TableSpec`.
pub const SCHEMA_VERSION: i64 = 1;

#[derive(Clone)]
pub struct Database {
    connection: Arc<Mutex<Connection>>,
}

/// The SQLite table holding `table`'s items.
pub(crate) fn table_name(table: &TableSpec) -> String {
    format!("items_{}", table.name)
}

/// The generated columns holding an index's key attributes.
pub(crate) fn index_columns(index: &milkrun_store::IndexSpec) -> (String, String) {
    (
        format!("ix_{}_pk", index.name),
        format!("ix_{}_sk", index.name),
    )
}

fn json_text(attribute: &str) -> String {
    format!("json_extract(item, '$.\"{attribute}\".S')")
}

/// DDL for one table, idempotent: the item table, one real index per `IndexSpec` over
/// generated columns, and triggers refusing updates and deletes on an append-only table.
fn create_table(conn: &Connection, table: &TableSpec) -> rusqlite::Result<()> {
    let name = table_name(table);
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS \"{name}\" (pk TEXT NOT NULL, sk TEXT NOT NULL DEFAULT '', \
         item TEXT NOT NULL, PRIMARY KEY (pk, sk)) WITHOUT ROWID;"
    ))?;
    let existing: Vec<String> = conn
        .prepare(&format!("SELECT name FROM pragma_table_xinfo('{name}')"))?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for index in table.indexes {
        let (pk, sk) = index_columns(index);
        for (column, attribute) in [(&pk, index.partition_key), (&sk, index.sort_key)] {
            if !existing.contains(column) {
                conn.execute_batch(&format!(
                    "ALTER TABLE \"{name}\" ADD COLUMN \"{column}\" TEXT GENERATED ALWAYS AS ({}) VIRTUAL;",
                    json_text(attribute)
                ))?;
            }
        }
        conn.execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS \"{name}_{index}\" ON \"{name}\" (\"{pk}\", \"{sk}\", pk, sk) \
             WHERE \"{pk}\" IS NOT NULL AND \"{sk}\" IS NOT NULL;",
            index = index.name
        ))?;
    }
    if table.append_only {
        for (what, verb) in [("update", "UPDATE"), ("delete", "DELETE")] {
            conn.execute_batch(&format!(
                "CREATE TRIGGER IF NOT EXISTS \"{name}_no_{what}\" BEFORE {verb} ON \"{name}\" \
                 BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END;"
            ))?;
        }
    }
    Ok(())
}

/// Removes items past their TTL (reads already treat them as gone), as DynamoDB's TTL
/// sweeper does.
fn drop_expired(conn: &Connection, table: &TableSpec) -> rusqlite::Result<()> {
    if let Some(attribute) = table.ttl {
        conn.execute(
            &format!(
                "DELETE FROM \"{}\" WHERE CAST(json_extract(item, '$.\"{attribute}\".N') AS INTEGER) <= unixepoch()",
                table_name(table)
            ),
            [],
        )?;
    }
    Ok(())
}

impl Database {
    /// Opens (creating if needed) the database file with every item table in place. A file
    /// of an earlier release still needs [`crate::legacy::migrate`] (done by `open_store`).
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
        // and cannot corrupt the file. A second process (`milkrun dlq`) waits its turn.
        connection
            .busy_timeout(Duration::from_secs(10))
            .and_then(|()| {
                connection.execute_batch(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
            })
            .map_err(|e| StoreError::backend("preparing the database", e))?;
        let version = user_version(&connection)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::backend_message(
                "opening the database",
                format!(
                    "schema version {version} was written by a newer milkrun than this one ({SCHEMA_VERSION})"
                ),
            ));
        }
        for table in milkrun_store::table::ALL {
            create_table(&connection, table)
                .and_then(|()| drop_expired(&connection, table))
                .map_err(|e| StoreError::backend("creating the item tables", e))?;
        }
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `work` with the connection on the blocking pool. SQLite serialises writers, and
    /// so does this mutex: each call is one transaction's worth of work.
    pub async fn call<T, E>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Interrupted> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            work(&mut guard)
        })
        .await
        .map_err(|e| E::from(Interrupted(e)))?
    }

    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        self.call(|conn| user_version(conn)).await
    }
}

/// A database call that never finished (its task panicked or was cancelled).
#[derive(Debug, thiserror::Error)]
#[error("a database call was interrupted: {0}")]
pub struct Interrupted(tokio::task::JoinError);

impl From<Interrupted> for StoreError {
    fn from(error: Interrupted) -> Self {
        StoreError::backend("running a database call", error)
    }
}

impl From<Interrupted> for milkrun_store::ItemError {
    fn from(error: Interrupted) -> Self {
        milkrun_store::ItemError::backend("running a database call", error)
    }
}

pub(crate) fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| StoreError::backend("reading the schema version", e))
}
