//! The audit trail in SQLite: INSERT only, and triggers refuse any UPDATE or DELETE.

use async_trait::async_trait;
use chrono::SecondsFormat;
use milkrun_domain::StoreError;
use milkrun_domain::audit::AuditEntry;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::AuditLog;
use rusqlite::{ErrorCode, params};

use crate::db::{Database, decode_cursor, encode_cursor, json_error, sql_error};

pub struct SqliteAuditLog {
    db: Database,
}

impl SqliteAuditLog {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl AuditLog for SqliteAuditLog {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let doc = serde_json::to_string(entry).map_err(json_error("encoding an audit entry"))?;
        let row = (
            entry.audit_id.to_string(),
            entry.entity_id.clone(),
            entry.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        );
        self.db
            .call(move |conn| {
                match conn.execute(
                    "INSERT INTO audit (audit_id, entity_id, at, doc) VALUES (?1, ?2, ?3, ?4)",
                    params![row.0, row.1, row.2, doc],
                ) {
                    Ok(_) => Ok(()),
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == ErrorCode::ConstraintViolation =>
                    {
                        Err(StoreError::AlreadyExists)
                    }
                    Err(e) => Err(StoreError::backend("appending to the audit trail", e)),
                }
            })
            .await
    }

    async fn for_entity(
        &self,
        entity_id: &str,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        // The cursor names its entity, so it cannot page another entity's trail.
        let position = match page.cursor.as_deref().map(decode_cursor).transpose()? {
            Some((scoped, id)) => match scoped.split_once('|') {
                Some((entity, at)) if entity == entity_id => (at.to_owned(), id),
                _ => return Err(StoreError::InvalidCursor),
            },
            None => ("9999".to_owned(), String::new()),
        };
        let (entity_id, limit) = (entity_id.to_owned(), page.limit as usize);
        self.db
            .call(move |conn| {
                let mut statement = conn
                    .prepare(
                        "SELECT at, audit_id, doc FROM audit WHERE entity_id = ?1 AND (at, audit_id) < (?2, ?3) \
                         ORDER BY at DESC, audit_id DESC LIMIT ?4",
                    )
                    .map_err(sql_error("reading the audit trail"))?;
                let rows: Vec<(String, String, String)> = statement
                    .query_map(params![entity_id, position.0, position.1, limit as i64 + 1], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .and_then(Iterator::collect)
                    .map_err(sql_error("reading the audit trail"))?;
                let next_cursor = (rows.len() > limit).then(|| encode_cursor(&format!("{entity_id}|{}", rows[limit - 1].0), &rows[limit - 1].1));
                let items = rows
                    .iter()
                    .take(limit)
                    .map(|(_, _, doc)| serde_json::from_str(doc).map_err(json_error("decoding an audit entry")))
                    .collect::<Result<_, _>>()?;
                Ok(Page { items, next_cursor })
            })
            .await
    }
}
