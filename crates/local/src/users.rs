//! Users in SQLite: the email's UNIQUE constraint makes registration race-free, and the
//! `version` column makes every update a compare-and-swap.

use async_trait::async_trait;
use chrono::SecondsFormat;
use milkrun_domain::StoreError;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{UserDirectory, UserLookup, UserRegistry, UserUpdates};
use milkrun_domain::user::User;
use milkrun_domain::values::Email;
use rusqlite::{ErrorCode, OptionalExtension, params};
use uuid::Uuid;

use crate::db::{Database, decode_cursor, encode_cursor, json_error, sql_error};

pub struct SqliteUsers {
    db: Database,
}

impl SqliteUsers {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn one(&self, sql: &'static str, key: String) -> Result<Option<User>, StoreError> {
        self.db
            .call(move |conn| {
                let doc: Option<String> = conn
                    .query_row(sql, [key], |row| row.get(0))
                    .optional()
                    .map_err(sql_error("reading a user"))?;
                doc.map(|doc| serde_json::from_str(&doc).map_err(json_error("decoding a user")))
                    .transpose()
            })
            .await
    }
}

/// Fixed-width UTC text, so that text order is time order.
fn sort_key(user: &User) -> String {
    user.created_at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[async_trait]
impl UserRegistry for SqliteUsers {
    async fn create(&self, user: &User) -> Result<(), StoreError> {
        let doc = serde_json::to_string(user).map_err(json_error("encoding a user"))?;
        let row = (
            user.user_id.to_string(),
            user.email.to_string(),
            sort_key(user),
            user.version as i64,
        );
        self.db
            .call(move |conn| {
                let inserted = conn.execute(
                    "INSERT INTO users (user_id, email, created_at, version, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![row.0, row.1, row.2, row.3, doc],
                );
                match inserted {
                    Ok(_) => Ok(()),
                    Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
                        Err(StoreError::AlreadyExists)
                    }
                    Err(e) => Err(StoreError::backend("creating a user", e)),
                }
            })
            .await
    }
}

#[async_trait]
impl UserLookup for SqliteUsers {
    async fn by_id(&self, user_id: Uuid) -> Result<Option<User>, StoreError> {
        self.one(
            "SELECT doc FROM users WHERE user_id = ?1",
            user_id.to_string(),
        )
        .await
    }

    async fn by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.one("SELECT doc FROM users WHERE email = ?1", email.to_string())
            .await
    }
}

#[async_trait]
impl UserUpdates for SqliteUsers {
    async fn update(&self, mut user: User) -> Result<User, StoreError> {
        let expected = user.version as i64;
        user.version += 1;
        let doc = serde_json::to_string(&user).map_err(json_error("encoding a user"))?;
        let id = user.user_id.to_string();
        self.db
            .call(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE users SET doc = ?1, version = version + 1 WHERE user_id = ?2 AND version = ?3",
                        params![doc, id, expected],
                    )
                    .map_err(sql_error("updating a user"))?;
                if changed == 1 {
                    return Ok(());
                }
                let exists = conn
                    .query_row("SELECT 1 FROM users WHERE user_id = ?1", [&id], |_| Ok(()))
                    .optional()
                    .map_err(sql_error("reading a user"))?;
                Err(if exists.is_some() { StoreError::VersionConflict } else { StoreError::NotFound })
            })
            .await?;
        Ok(user)
    }
}

#[async_trait]
impl UserDirectory for SqliteUsers {
    async fn list(&self, page: &PageRequest) -> Result<Page<User>, StoreError> {
        let after = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page.limit as i64;
        self.db
            .call(move |conn| {
                let (created, id) = after.unwrap_or_else(|| ("9999".into(), String::new()));
                let mut statement = conn
                    .prepare(
                        "SELECT created_at, user_id, doc FROM users WHERE (created_at, user_id) < (?1, ?2) \
                         ORDER BY created_at DESC, user_id DESC LIMIT ?3",
                    )
                    .map_err(sql_error("listing users"))?;
                let rows = statement
                    .query_map(params![created, id, limit + 1], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?))
                    })
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .map_err(sql_error("listing users"))?;
                let next_cursor = (rows.len() as i64 > limit).then(|| {
                    let (created, id, _) = &rows[limit as usize - 1];
                    encode_cursor(created, id)
                });
                let items = rows
                    .into_iter()
                    .take(limit as usize)
                    .map(|(_, _, doc)| serde_json::from_str(&doc).map_err(json_error("decoding a user")))
                    .collect::<Result<_, _>>()?;
                Ok(Page { items, next_cursor })
            })
            .await
    }
}
