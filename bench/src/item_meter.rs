//! A metering decorator over any [`ItemStore`]: counts each call as the DynamoDB API call it
//! would be (GetItem, BatchGetItem per 100 keys, Query, PutItem, UpdateItem, DeleteItem,
//! TransactWriteItems, Scan) under the label of the task that made it (a tokio task-local:
//! the route, the checkout step, the consumer), and, when asked to, the read and write
//! request units DynamoDB on-demand would bill for it.
//!
//! Capacity follows DynamoDB's published rules, applied to the items as this store holds
//! them (attribute names and values sized as DynamoDB sizes them):
//! - reads: 4 KB units; eventually consistent ½, strongly consistent 1 (GetItem as asked,
//!   BatchGetItem as the DynamoDB store sends it (consistent, but eventually consistent for
//!   the listings that read what a keys-only index names), Query on a table as asked
//!   and on an index ½); a Query sums the items it returns before rounding; a key that finds
//!   nothing still costs one unit (½ when eventually consistent);
//! - writes: 1 KB units of the larger of the item before and after; inside
//!   TransactWriteItems each item (a condition check too) costs twice;
//! - global secondary indexes, each holding its projection of the item (`IndexSpec`'s, as
//!   the template's): an item entering or leaving an index costs a write there, an item
//!   whose projection changed in place one write (none if it did not change: keys-only
//!   indexes are written only when their keys move), an item whose index key changed two
//!   (delete and put); index writes are not doubled by a transaction.
//!
//! Sizing a write needs the item before and after it, which the meter reads from the
//! wrapped store itself (uncounted). Those extra reads slow the store down, so timings are
//! taken with capacity metering off.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use milkrun_store::effects::carried_events;
use milkrun_store::item::{Item, Value};
use milkrun_store::ops::{ItemPage, Key, Query, Write};
use milkrun_store::port::{ItemError, ItemStore};
use milkrun_store::table::{AUDIT, OUTBOX, TableSpec};

tokio::task_local! {
    /// Who is calling: set around a request, a checkout step, an event delivery.
    pub static LABEL: String;
}

/// The calling task's label, `other` outside any.
pub fn label() -> String {
    LABEL
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "other".to_owned())
}

/// What one label cost.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// DynamoDB API calls by operation name.
    pub calls: BTreeMap<&'static str, u64>,
    pub read_units: f64,
    /// Write units of the tables themselves (transactional ones already doubled).
    pub write_units: f64,
    /// Write units of the global secondary indexes.
    pub index_write_units: f64,
    /// Events committed: outbox items, and the events audit entries carry.
    pub outbox_items: u64,
    /// Items put into the streamed tables (audit entries and outbox items, with events or
    /// without): each a stream record the publisher's mappings hand it.
    pub stream_records: u64,
    /// Read units, table write units and index write units by table.
    pub by_table: BTreeMap<&'static str, [f64; 3]>,
}

impl Tally {
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }

    pub fn add(&mut self, other: &Tally) {
        for (op, n) in &other.calls {
            *self.calls.entry(op).or_default() += n;
        }
        self.read_units += other.read_units;
        self.write_units += other.write_units;
        self.index_write_units += other.index_write_units;
        self.outbox_items += other.outbox_items;
        self.stream_records += other.stream_records;
        for (table, units) in &other.by_table {
            let mine = self.by_table.entry(table).or_default();
            for (m, o) in mine.iter_mut().zip(units) {
                *m += o;
            }
        }
    }

    fn units(&mut self, table: &'static str, read: f64, write: f64, index: f64) {
        self.read_units += read;
        self.write_units += write;
        self.index_write_units += index;
        let units = self.by_table.entry(table).or_default();
        units[0] += read;
        units[1] += write;
        units[2] += index;
    }
}

pub struct ItemMeter {
    inner: Arc<dyn ItemStore>,
    tallies: Mutex<BTreeMap<String, Tally>>,
    capacity: AtomicBool,
}

impl ItemMeter {
    pub fn new(inner: Arc<dyn ItemStore>) -> Self {
        Self {
            inner,
            tallies: Mutex::default(),
            capacity: AtomicBool::new(false),
        }
    }

    /// Whether to size reads and writes (which costs extra, uncounted reads of the store).
    pub fn meter_capacity(&self, on: bool) {
        self.capacity.store(on, Ordering::SeqCst);
    }

    /// Everything counted since the last take, by label; starts counting afresh.
    pub fn take(&self) -> BTreeMap<String, Tally> {
        std::mem::take(&mut *self.tallies.lock().unwrap())
    }

    fn capacity(&self) -> bool {
        self.capacity.load(Ordering::SeqCst)
    }

    fn record(&self, change: impl FnOnce(&mut Tally)) {
        let mut tallies = self.tallies.lock().unwrap();
        change(tallies.entry(label()).or_default());
    }

    fn call(&self, op: &'static str, n: u64) {
        self.record(|t| *t.calls.entry(op).or_default() += n);
    }

    /// The item a write touches as it is now (uncounted), for sizing.
    async fn image(&self, write: &Write) -> Option<Item> {
        let table = write.table();
        let key = match write {
            Write::Put { item, .. } => key_of(table, item)?,
            Write::Update { key, .. } | Write::Delete { key, .. } | Write::Check { key, .. } => {
                key.clone()
            }
        };
        self.inner.get(table, &key, true).await.ok().flatten()
    }

    /// Sizes `writes` from their images before and after; `factor` 2 inside a transaction.
    /// A BatchGetItem of `keys` that found `found`: a call per 100 keys, each key read as
    /// its own GetItem (a key that found nothing one unit, ½ when eventually consistent).
    fn charge_batch_get(&self, table: &TableSpec, keys: &[Key], found: &[Item], consistent: bool) {
        if !keys.is_empty() {
            self.call("BatchGetItem", keys.len().div_ceil(100) as u64);
        }
        if self.capacity() {
            let missing = keys.len().saturating_sub(found.len());
            let units: f64 = found
                .iter()
                .map(|i| read_units(item_size(i), consistent))
                .sum::<f64>()
                + read_units(0, consistent) * missing as f64;
            self.record(|t| t.units(table.name, units, 0.0, 0.0));
        }
    }

    fn charge_writes(
        &self,
        writes: &[Write],
        before: &[Option<Item>],
        after: &[Option<Item>],
        factor: f64,
    ) {
        for ((write, before), after) in writes.iter().zip(before).zip(after) {
            let table = write.table();
            let size = item_size_opt(before).max(item_size_opt(after));
            let units = factor * write_units(size);
            let index_units = match write {
                Write::Check { .. } => 0.0,
                _ => index_writes(table, before.as_ref(), after.as_ref()),
            };
            if trace_writes() {
                eprintln!(
                    "meter: {} {} {} {size} B: {units} WRU, {index_units} in indexes",
                    label(),
                    table.name,
                    op_name(write)
                );
            }
            self.record(|t| t.units(table.name, 0.0, units, index_units));
        }
    }

    /// The events committed by `writes` (each outbox put's, and those an audit entry
    /// carries), and the stream records they make.
    fn count_outbox(&self, writes: &[Write]) {
        let carried =
            |item: &Item| carried_events(&mut item.clone()).map_or(0, |events| events.len() as u64);
        let events: u64 = (writes.iter())
            .map(|w| match w {
                Write::Put { table, .. } if table.name == OUTBOX.name => 1,
                Write::Put { table, item, .. } if table.name == AUDIT.name => carried(item),
                _ => 0,
            })
            .sum();
        let records = (writes.iter())
            .filter(|w| matches!(w, Write::Put { table, .. } if [OUTBOX.name, AUDIT.name].contains(&table.name)))
            .count() as u64;
        if events > 0 || records > 0 {
            self.record(|t| {
                t.outbox_items += events;
                t.stream_records += records;
            });
        }
    }
}

/// `MILKRUN_METER_TRACE=1`: every metered write on stderr (who, table, operation, size, units),
/// to see which item of a checkout costs what.
fn trace_writes() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("MILKRUN_METER_TRACE").is_some())
}

fn op_name(write: &Write) -> &'static str {
    match write {
        Write::Put { .. } => "PutItem",
        Write::Update { .. } => "UpdateItem",
        Write::Delete { .. } => "DeleteItem",
        Write::Check { .. } => "ConditionCheck",
    }
}

#[async_trait]
impl ItemStore for ItemMeter {
    async fn get(
        &self,
        table: &'static TableSpec,
        key: &Key,
        consistent: bool,
    ) -> Result<Option<Item>, ItemError> {
        let found = self.inner.get(table, key, consistent).await?;
        self.call("GetItem", 1);
        if self.capacity() {
            let units = read_units(item_size_opt(&found), consistent);
            self.record(|t| t.units(table.name, units, 0.0, 0.0));
        }
        Ok(found)
    }

    async fn batch_get(
        &self,
        table: &'static TableSpec,
        keys: &[Key],
    ) -> Result<Vec<Item>, ItemError> {
        let found = self.inner.batch_get(table, keys).await?;
        self.charge_batch_get(table, keys, &found, true);
        Ok(found)
    }

    async fn batch_get_eventual(
        &self,
        table: &'static TableSpec,
        keys: &[Key],
    ) -> Result<Vec<Item>, ItemError> {
        let found = self.inner.batch_get_eventual(table, keys).await?;
        self.charge_batch_get(table, keys, &found, false);
        Ok(found)
    }

    async fn write(&self, write: Write) -> Result<Option<Item>, ItemError> {
        let op = op_name(&write);
        let metered = self.capacity();
        let before = if metered {
            Some(self.image(&write).await)
        } else {
            None
        };
        let writes = [write.clone()];
        let result = self.inner.write(write).await;
        self.call(op, 1);
        if result.is_ok() {
            self.count_outbox(&writes);
        }
        if let Some(before) = before {
            let after = self.image(&writes[0]).await;
            self.charge_writes(&writes, &[before], &[after], 1.0);
        }
        result
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), ItemError> {
        let metered = self.capacity();
        let mut before = Vec::new();
        if metered {
            for write in &writes {
                before.push(self.image(write).await);
            }
        }
        let kept = writes.clone();
        let result = self.inner.transact(writes).await;
        self.call("TransactWriteItems", 1);
        if result.is_ok() {
            self.count_outbox(&kept);
        }
        if metered {
            let mut after = Vec::new();
            for write in &kept {
                after.push(self.image(write).await);
            }
            self.charge_writes(&kept, &before, &after, 2.0);
        }
        result
    }

    async fn query(&self, query: &Query) -> Result<ItemPage, ItemError> {
        let page = self.inner.query(query).await?;
        self.call("Query", 1);
        if self.capacity() {
            let size: usize = page.items.iter().map(item_size).sum();
            let consistent = query.index.is_none() && query.consistent;
            let units = read_units(size, consistent);
            self.record(|t| t.units(query.table.name, units, 0.0, 0.0));
        }
        Ok(page)
    }

    async fn scan(
        &self,
        table: &'static TableSpec,
        limit: u32,
        start_after: Option<Item>,
    ) -> Result<ItemPage, ItemError> {
        let page = self.inner.scan(table, limit, start_after).await?;
        self.call("Scan", 1);
        if self.capacity() {
            let size: usize = page.items.iter().map(item_size).sum();
            let units = read_units(size, false);
            self.record(|t| t.units(table.name, units, 0.0, 0.0));
        }
        Ok(page)
    }
}

/// The key of `item` in `table`, from its key attributes.
fn key_of(table: &TableSpec, item: &Item) -> Option<Key> {
    let text = |name: &str| match item.get(name) {
        Some(Value::S(s)) => Some(s.clone()),
        _ => None,
    };
    let partition = text(table.partition_key)?;
    match table.sort_key {
        None => Some(Key::partition(partition)),
        Some(sort) => Some(Key::with_sort(partition, text(sort)?)),
    }
}

/// 4 KB read units, at least one; half when eventually consistent.
fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// 1 KB write units, at least one.
fn write_units(size: usize) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

/// The index values that place `item` in `index` (sparse: both attributes present).
fn index_key<'a>(item: &'a Item, partition: &str, sort: &str) -> Option<(&'a Value, &'a Value)> {
    Some((item.get(partition)?, item.get(sort)?))
}

/// Write units the global secondary indexes of `table` take for a write from `before` to
/// `after`, each index holding its projection of the item: an entry put or removed costs
/// its size, one whose index key stayed costs a rewrite only if its projection changed,
/// one whose key changed a delete and a put.
fn index_writes(table: &TableSpec, before: Option<&Item>, after: Option<&Item>) -> f64 {
    let mut units = 0.0;
    for index in table.indexes {
        let before = before.map(|i| index.project(table, i.clone()));
        let after = after.map(|i| index.project(table, i.clone()));
        let old = before
            .as_ref()
            .and_then(|i| index_key(i, index.partition_key, index.sort_key));
        let new = after
            .as_ref()
            .and_then(|i| index_key(i, index.partition_key, index.sort_key));
        let (old_size, new_size) = (item_size_opt(&before), item_size_opt(&after));
        units += match (old, new) {
            (None, None) => 0.0,
            (None, Some(_)) => write_units(new_size),
            (Some(_), None) => write_units(old_size),
            (Some(old), Some(new)) if old == new => {
                if before == after {
                    0.0
                } else {
                    write_units(new_size.max(old_size))
                }
            }
            (Some(_), Some(_)) => write_units(old_size) + write_units(new_size),
        };
    }
    units
}

fn item_size_opt(item: &Option<Item>) -> usize {
    item.as_ref().map_or(0, item_size)
}

/// An item's size as DynamoDB counts it: each attribute's name and value.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::S(s) => s.len(),
        Value::N(n) => number_size(n),
        Value::B(b) => b.len(),
        Value::Bool(_) | Value::Null(_) => 1,
        Value::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        Value::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        Value::Ss(set) => set.iter().map(String::len).sum(),
        Value::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        Value::Bs(set) => set.iter().map(Vec::len).sum(),
    }
}

/// Numbers: about one byte per two significant digits, plus one.
fn number_size(text: &str) -> usize {
    let digits = text
        .trim_start_matches(['-', '+'])
        .trim_start_matches(['0', '.'])
        .chars()
        .filter(char::is_ascii_digit)
        .count();
    digits.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let mut item = Item::from(std::collections::HashMap::<String, Value>::new());
        item.insert("pk".into(), Value::S("ORDER#1".into()));
        item.insert("n".into(), Value::N("12345".into()));
        item.insert("ok".into(), Value::Bool(true));
        // "pk" 2 + 7, "n" 1 + 4 (5 digits → 3 + 1), "ok" 2 + 1
        assert_eq!(item_size(&item), 9 + 5 + 3);
        assert_eq!(read_units(0, false), 0.5);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
    }
}
