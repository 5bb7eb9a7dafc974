//! The item store on SQLite. Each call is one SQLite transaction: every write's current item
//! is read, its condition checked (in Rust, `eval`), and the writes applied, or none of them.
//! Items are kept whole as DynamoDB JSON; index keys are generated columns under real
//! SQLite indexes, so a listing is an index range scan as it is a Query in DynamoDB.
//! Reads go to the reader connections, writes to the writer's group commit (`db`); every
//! statement is prepared once per connection and kept (`prepare_cached`). Where DynamoDB's
//! audit stream hands the events an audit item carries to the publisher, this store puts
//! them in its outbox in the same transaction, for the relay.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_store::effects::carried_outbox_writes;
use milkrun_store::ops::{
    ItemPage, Key, Query, SortCondition, Write, check_transaction, check_write, position_of,
};
use milkrun_store::port::is_expired;
use milkrun_store::table::OUTBOX;
use milkrun_store::{Item, ItemError, ItemStore, TableSpec};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Notify;

use crate::db::{Database, index_columns, table_name};
use crate::eval::{holds, updated};

#[derive(Clone)]
pub struct SqliteItemStore {
    db: Database,
    outbox_signal: Option<Arc<Notify>>,
}

impl SqliteItemStore {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            outbox_signal: None,
        }
    }

    /// Notifies `signal` after every commit that wrote to the outbox (wakes the relay).
    pub fn signalling_outbox(mut self, signal: Arc<Notify>) -> Self {
        self.outbox_signal = Some(signal);
        self
    }

    fn committed(&self, writes_outbox: bool) {
        if let (true, Some(signal)) = (writes_outbox, &self.outbox_signal) {
            signal.notify_one();
        }
    }
}

fn touches_outbox(writes: &[Write]) -> bool {
    writes.iter().any(|w| w.table().name == OUTBOX.name)
}

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> ItemError {
    move |error| ItemError::backend(context, error)
}

fn to_text(item: &Item) -> Result<String, ItemError> {
    serde_json::to_string(item).map_err(|e| ItemError::backend("encoding an item", e))
}

fn from_text(text: &str) -> Result<Item, ItemError> {
    serde_json::from_str(text).map_err(|e| ItemError::backend("decoding an item", e))
}

fn sort_text(key: &Key) -> &str {
    key.sort.as_deref().unwrap_or("")
}

/// The live item at `key` (an expired one counts as absent, as in every read).
fn read(conn: &Connection, table: &TableSpec, key: &Key) -> Result<Option<Item>, ItemError> {
    let statement = format!(
        "SELECT item FROM \"{}\" WHERE pk = ?1 AND sk = ?2",
        table_name(table)
    );
    let text: Option<String> = conn
        .prepare_cached(&statement)
        .and_then(|mut s| {
            s.query_row(params![key.partition, sort_text(key)], |row| row.get(0))
                .optional()
        })
        .map_err(sql("reading an item"))?;
    let item = text.as_deref().map(from_text).transpose()?;
    Ok(item.filter(|item| !is_expired(table, item)))
}

/// Stores `item` at `key`. An upsert: a new row is an INSERT, so an append-only table's
/// triggers only ever see the UPDATE of an existing row (and refuse it).
fn store(conn: &Connection, table: &TableSpec, key: &Key, item: &Item) -> Result<(), ItemError> {
    let statement = format!(
        "INSERT INTO \"{}\" (pk, sk, item) VALUES (?1, ?2, ?3) \
         ON CONFLICT (pk, sk) DO UPDATE SET item = excluded.item",
        table_name(table)
    );
    let text = to_text(item)?;
    conn.prepare_cached(&statement)
        .and_then(|mut s| s.execute(params![key.partition, sort_text(key), text]))
        .map_err(sql("writing an item"))?;
    Ok(())
}

fn remove(conn: &Connection, table: &TableSpec, key: &Key) -> Result<(), ItemError> {
    let statement = format!(
        "DELETE FROM \"{}\" WHERE pk = ?1 AND sk = ?2",
        table_name(table)
    );
    conn.prepare_cached(&statement)
        .and_then(|mut s| s.execute(params![key.partition, sort_text(key)]))
        .map_err(sql("deleting an item"))?;
    Ok(())
}

/// Applies one write whose condition was checked against `current`; answers the new item.
fn apply(
    conn: &Connection,
    write: Write,
    current: Option<Item>,
) -> Result<Option<Item>, ItemError> {
    let key = write.key().expect("checked");
    match write {
        Write::Put { table, item, .. } => {
            store(conn, table, &key, &item)?;
            Ok(Some(item))
        }
        Write::Update { table, updates, .. } => {
            let item = updated(table, &key, current, &updates)?;
            store(conn, table, &key, &item)?;
            Ok(Some(item))
        }
        Write::Delete { table, .. } => {
            remove(conn, table, &key)?;
            Ok(None)
        }
        Write::Check { .. } => Ok(None),
    }
}

/// Checks every write's condition, then applies them all. Run by `Database::write`, inside
/// a savepoint of its own: an error undoes whatever was applied, so it is all or nothing.
fn commit(tx: &Connection, writes: Vec<Write>) -> Result<Vec<Option<Item>>, ItemError> {
    let mut currents = Vec::with_capacity(writes.len());
    for (index, write) in writes.iter().enumerate() {
        let current = read(tx, write.table(), &write.key().expect("checked"))?;
        if let Some(condition) = write.condition()
            && !holds(condition, current.as_ref())
        {
            return Err(ItemError::ConditionFailed { index });
        }
        currents.push(current);
    }
    let written = writes
        .into_iter()
        .zip(currents)
        .map(|(write, current)| apply(tx, write, current))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(written)
}

/// A query's SQL: its WHERE clauses and their parameters, in order.
struct Clauses {
    conditions: Vec<String>,
    values: Vec<SqlValue>,
}

impl Clauses {
    fn push(&mut self, condition: String, values: impl IntoIterator<Item = String>) {
        self.conditions.push(condition);
        self.values.extend(values.into_iter().map(SqlValue::Text));
    }
}

fn sort_clause(column: &str, sort: &SortCondition) -> (String, Vec<String>) {
    match sort {
        SortCondition::Equals(v) => (format!("{column} = ?"), vec![v.clone()]),
        SortCondition::BeginsWith(v) => (
            format!("substr({column}, 1, length(?)) = ?"),
            vec![v.clone(), v.clone()],
        ),
        SortCondition::Between(lo, hi) => (
            format!("{column} BETWEEN ? AND ?"),
            vec![lo.clone(), hi.clone()],
        ),
        SortCondition::Before(v) => (format!("{column} < ?"), vec![v.clone()]),
        SortCondition::After(v) => (format!("{column} > ?"), vec![v.clone()]),
    }
}

/// The ordered columns of a query (sort key, then the table key for an index) and the
/// attribute each holds.
fn order_columns(query: &Query) -> Vec<(String, &'static str)> {
    let table = query.table;
    let mut columns = Vec::new();
    if let Some(index) = query.index {
        columns.push((format!("\"{}\"", index_columns(index).1), index.sort_key));
        columns.push(("pk".to_owned(), table.partition_key));
    }
    if let Some(sort) = table.sort_key {
        columns.push(("sk".to_owned(), sort));
    }
    columns
}

fn query_sql(query: &Query) -> Result<(String, Vec<SqlValue>), ItemError> {
    let mut clauses = Clauses {
        conditions: Vec::new(),
        values: Vec::new(),
    };
    let (partition_column, sort_column) = match query.index {
        Some(index) => {
            let (pk, sk) = index_columns(index);
            (format!("\"{pk}\""), Some(format!("\"{sk}\"")))
        }
        None => (
            "pk".to_owned(),
            query.table.sort_key.map(|_| "sk".to_owned()),
        ),
    };
    clauses.push(format!("{partition_column} = ?"), [query.partition.clone()]);
    if let Some(column) = &sort_column {
        clauses.conditions.push(format!("{column} IS NOT NULL"));
    }
    if let (Some(sort), Some(column)) = (&query.sort, &sort_column) {
        let (condition, values) = sort_clause(column, sort);
        clauses.push(condition, values);
    }
    let order = order_columns(query);
    if let Some(start) = &query.start_after {
        let values = order
            .iter()
            .map(|(_, attribute)| milkrun_store::item::text(start, attribute).map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ItemError::Invalid("a resume point lacks its key attributes".into()))?;
        let columns: Vec<&str> = order.iter().map(|(c, _)| c.as_str()).collect();
        let placeholders = vec!["?"; columns.len()].join(", ");
        let direction = if query.descending { "<" } else { ">" };
        clauses.push(
            format!("({}) {direction} ({placeholders})", columns.join(", ")),
            values,
        );
    }
    let direction = if query.descending { "DESC" } else { "ASC" };
    let order_by: Vec<String> = order
        .iter()
        .map(|(c, _)| format!("{c} {direction}"))
        .collect();
    let order_by = if order_by.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", order_by.join(", "))
    };
    clauses
        .values
        .push(SqlValue::Integer(i64::from(query.limit)));
    let statement = format!(
        "SELECT item FROM \"{}\" WHERE {}{order_by} LIMIT ?",
        table_name(query.table),
        clauses.conditions.join(" AND ")
    );
    Ok((statement, clauses.values))
}

/// Runs a SELECT of whole items. The last row read (expired or not) is where the next call
/// resumes, when the limit was reached; its `positions` attributes name it.
fn select(
    conn: &Connection,
    table: &TableSpec,
    (statement, values): (String, Vec<SqlValue>),
    limit: u32,
    positions: &[&str],
) -> Result<ItemPage, ItemError> {
    let texts: Vec<String> = conn
        .prepare_cached(&statement)
        .and_then(|mut s| {
            s.query_map(rusqlite::params_from_iter(values), |row| row.get(0))?
                .collect()
        })
        .map_err(sql("querying items"))?;
    let items = texts
        .iter()
        .map(|t| from_text(t))
        .collect::<Result<Vec<_>, _>>()?;
    let last_key = (items.len() >= limit as usize && limit > 0)
        .then(|| items.last().map(|item| position_of(item, positions)))
        .flatten();
    Ok(ItemPage::live(table, items, last_key))
}

/// A scan's SQL: the whole table in key order, after the resume point if any.
fn scan_sql(table: &TableSpec, limit: u32, start: Option<Key>) -> (String, Vec<SqlValue>) {
    let mut values = Vec::new();
    let filter = match &start {
        Some(key) => {
            values.push(SqlValue::Text(key.partition.clone()));
            values.push(SqlValue::Text(sort_text(key).to_owned()));
            "WHERE (pk, sk) > (?, ?)"
        }
        None => "",
    };
    values.push(SqlValue::Integer(i64::from(limit)));
    let name = table_name(table);
    (
        format!("SELECT item FROM \"{name}\" {filter} ORDER BY pk, sk LIMIT ?"),
        values,
    )
}

impl SqliteItemStore {
    async fn select(
        &self,
        table: &'static TableSpec,
        sql: (String, Vec<SqlValue>),
        limit: u32,
        positions: Vec<&'static str>,
    ) -> Result<ItemPage, ItemError> {
        self.db
            .read(move |conn| select(conn, table, sql, limit, &positions))
            .await
    }
}

#[async_trait]
impl ItemStore for SqliteItemStore {
    async fn get(
        &self,
        table: &'static TableSpec,
        key: &Key,
        _consistent: bool,
    ) -> Result<Option<Item>, ItemError> {
        let key = key.clone();
        self.db.read(move |conn| read(conn, table, &key)).await
    }

    async fn batch_get(
        &self,
        table: &'static TableSpec,
        keys: &[Key],
    ) -> Result<Vec<Item>, ItemError> {
        let keys = keys.to_vec();
        self.db
            .read(move |conn| {
                let mut items = Vec::new();
                for key in &keys {
                    items.extend(read(conn, table, key)?);
                }
                Ok(items)
            })
            .await
    }

    async fn write(&self, write: Write) -> Result<Option<Item>, ItemError> {
        check_write(&write).map_err(ItemError::Invalid)?;
        if matches!(write, Write::Check { .. }) {
            return Err(ItemError::Invalid(
                "a condition check is only for transactions".into(),
            ));
        }
        let mut writes = vec![write];
        writes.extend(carried_outbox_writes(&writes)?);
        let outbox = touches_outbox(&writes);
        let written = self.db.write(move |conn| commit(conn, writes)).await?;
        self.committed(outbox);
        Ok(written.into_iter().next().flatten())
    }

    async fn transact(&self, mut writes: Vec<Write>) -> Result<(), ItemError> {
        check_transaction(&writes).map_err(ItemError::Invalid)?;
        writes.extend(carried_outbox_writes(&writes)?);
        let outbox = touches_outbox(&writes);
        self.db
            .write(move |conn| commit(conn, writes).map(|_| ()))
            .await?;
        self.committed(outbox);
        Ok(())
    }

    async fn query(&self, query: &Query) -> Result<ItemPage, ItemError> {
        let sql = query_sql(query)?;
        let page = self
            .select(query.table, sql, query.limit, query.position_attributes())
            .await?;
        Ok(query.projected(page))
    }

    async fn scan(
        &self,
        table: &'static TableSpec,
        limit: u32,
        start_after: Option<Item>,
    ) -> Result<ItemPage, ItemError> {
        let start = start_after
            .map(|item| {
                Key::of(table, &item)
                    .ok_or_else(|| ItemError::Invalid("a resume point lacks its key".into()))
            })
            .transpose()?;
        let sql = scan_sql(table, limit, start);
        self.select(table, sql, limit, table.key_attributes()).await
    }
}
