//! What an item store is asked to do: typed keys, conditions, updates, writes and queries.
//! Nothing here is an expression string: each store builds its own from these types, and
//! values are always bound, never spliced into text.

use std::collections::HashSet;

use crate::item::{Item, Value, text};
use crate::table::{IndexSpec, TableSpec};

/// An item's primary key. Every key attribute in this house is a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub partition: String,
    /// Present exactly when the table has a sort key.
    pub sort: Option<String>,
}

impl Key {
    pub fn partition(partition: impl Into<String>) -> Self {
        Self {
            partition: partition.into(),
            sort: None,
        }
    }

    pub fn with_sort(partition: impl Into<String>, sort: impl Into<String>) -> Self {
        Self {
            partition: partition.into(),
            sort: Some(sort.into()),
        }
    }

    /// The key attributes as an item of `table`.
    pub fn to_item(&self, table: &TableSpec) -> Item {
        let mut item = Item::default();
        item.insert(table.partition_key.into(), Value::S(self.partition.clone()));
        if let (Some(name), Some(sort)) = (table.sort_key, &self.sort) {
            item.insert(name.into(), Value::S(sort.clone()));
        }
        item
    }

    /// Sets the key attributes on `item`.
    pub fn add_to(&self, table: &TableSpec, item: &mut Item) {
        item.extend(self.to_item(table).into_inner());
    }

    /// The key of `item` in `table`, if the item carries string key attributes.
    pub fn of(table: &TableSpec, item: &Item) -> Option<Self> {
        let partition = text(item, table.partition_key)?.to_owned();
        let sort = match table.sort_key {
            Some(name) => Some(text(item, name)?.to_owned()),
            None => None,
        };
        Some(Self { partition, sort })
    }

    fn fits(&self, table: &TableSpec) -> bool {
        self.sort.is_some() == table.sort_key.is_some()
    }
}

/// A condition a write must meet, checked atomically with it.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists.
    Exists,
    /// No item has this key (a uniqueness claim, an append).
    NotExists,
    AttributeExists(String),
    AttributeNotExists(String),
    /// The attribute exists and equals the value.
    Equals(String, Value),
    /// The attribute is a number (or string) at least the value.
    AtLeast(String, Value),
    /// The attribute is a number (or string) at most the value.
    AtMost(String, Value),
    /// Compare-and-swap: the item's `version` attribute equals this.
    Version(u64),
    /// Every one of these holds.
    All(Vec<Condition>),
    /// At least one of these holds.
    Any(Vec<Condition>),
}

/// The attribute every versioned entity keeps its compare-and-swap counter in.
pub const VERSION_ATTRIBUTE: &str = "version";

impl Condition {
    pub fn equals(attribute: &str, value: Value) -> Self {
        Self::Equals(attribute.into(), value)
    }

    pub fn at_least(attribute: &str, value: Value) -> Self {
        Self::AtLeast(attribute.into(), value)
    }

    pub fn at_most(attribute: &str, value: Value) -> Self {
        Self::AtMost(attribute.into(), value)
    }
}

/// One change an update makes to one top-level attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Set(String, Value),
    /// Sets the attribute only if the item does not have it yet.
    SetIfAbsent(String, Value),
    /// Adds to a number attribute (a missing one counts as 0); negative subtracts.
    Add(String, i64),
    Remove(String),
}

impl Update {
    pub fn set(attribute: &str, value: Value) -> Self {
        Self::Set(attribute.into(), value)
    }

    pub fn add(attribute: &str, delta: i64) -> Self {
        Self::Add(attribute.into(), delta)
    }

    pub fn remove(attribute: &str) -> Self {
        Self::Remove(attribute.into())
    }

    pub fn attribute(&self) -> &str {
        match self {
            Update::Set(a, _)
            | Update::SetIfAbsent(a, _)
            | Update::Add(a, _)
            | Update::Remove(a) => a,
        }
    }
}

/// One write, alone or as part of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Replaces the whole item (its key is in the item).
    Put {
        table: &'static TableSpec,
        item: Item,
        condition: Option<Condition>,
    },
    /// Changes some attributes, creating the item if it does not exist.
    Update {
        table: &'static TableSpec,
        key: Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    },
    Delete {
        table: &'static TableSpec,
        key: Key,
        condition: Option<Condition>,
    },
    /// Writes nothing; only its condition must hold (in a transaction).
    Check {
        table: &'static TableSpec,
        key: Key,
        condition: Condition,
    },
}

impl Write {
    pub fn put(table: &'static TableSpec, item: Item, condition: Option<Condition>) -> Self {
        Self::Put {
            table,
            item,
            condition,
        }
    }

    pub fn update(
        table: &'static TableSpec,
        key: Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    ) -> Self {
        Self::Update {
            table,
            key,
            updates,
            condition,
        }
    }

    pub fn delete(table: &'static TableSpec, key: Key, condition: Option<Condition>) -> Self {
        Self::Delete {
            table,
            key,
            condition,
        }
    }

    pub fn table(&self) -> &'static TableSpec {
        match self {
            Write::Put { table, .. }
            | Write::Update { table, .. }
            | Write::Delete { table, .. }
            | Write::Check { table, .. } => table,
        }
    }

    /// The key this write touches, `None` if a put's item lacks its key attributes.
    pub fn key(&self) -> Option<Key> {
        match self {
            Write::Put { table, item, .. } => Key::of(table, item),
            Write::Update { key, .. } | Write::Delete { key, .. } | Write::Check { key, .. } => {
                Some(key.clone())
            }
        }
    }

    pub fn condition(&self) -> Option<&Condition> {
        match self {
            Write::Put { condition, .. }
            | Write::Update { condition, .. }
            | Write::Delete { condition, .. } => condition.as_ref(),
            Write::Check { condition, .. } => Some(condition),
        }
    }
}

/// The most writes one transaction may carry (DynamoDB's limit, kept by both stores).
pub const MAX_TRANSACTION_WRITES: usize = milkrun_domain::cart::MAX_TRANSACTION_WRITES;

/// Why a set of writes cannot be sent at all, the same answer from every store: too many,
/// one item twice, or a key that does not fit its table.
pub fn check_transaction(writes: &[Write]) -> Result<(), String> {
    if writes.is_empty() || writes.len() > MAX_TRANSACTION_WRITES {
        return Err(format!(
            "a transaction carries 1 to {MAX_TRANSACTION_WRITES} writes, not {}",
            writes.len()
        ));
    }
    let mut seen = HashSet::new();
    for write in writes {
        check_write(write)?;
        let key = write.key().expect("checked");
        if !seen.insert((write.table().name, key.clone())) {
            return Err(format!(
                "{key:?} of {} is written twice",
                write.table().name
            ));
        }
    }
    Ok(())
}

/// Whether one write is well formed for its table.
pub fn check_write(write: &Write) -> Result<(), String> {
    let table = write.table();
    let key = write
        .key()
        .ok_or_else(|| format!("a put to {} lacks its key attributes", table.name))?;
    if !key.fits(table) {
        return Err(format!("{key:?} does not fit the keys of {}", table.name));
    }
    if let Write::Update { updates, .. } = write {
        let keys = table.key_attributes();
        if updates.iter().any(|u| keys.contains(&u.attribute())) {
            return Err(format!(
                "an update of {} changes a key attribute",
                table.name
            ));
        }
    }
    Ok(())
}

/// A condition on a query's sort key (the table's, or the index's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortCondition {
    Equals(String),
    BeginsWith(String),
    /// Inclusive at both ends.
    Between(String, String),
    Before(String),
    After(String),
}

/// Items of one partition of a table or an index, in sort-key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub table: &'static TableSpec,
    pub index: Option<&'static IndexSpec>,
    pub partition: String,
    pub sort: Option<SortCondition>,
    /// Highest sort key first (newest first, for time-ordered keys).
    pub descending: bool,
    /// The most items one call returns.
    pub limit: u32,
    /// Resume after this item (the key attributes of the last item of the previous call).
    pub start_after: Option<Item>,
    /// Read the latest committed writes (tables only; indexes are eventually consistent).
    pub consistent: bool,
}

impl Query {
    /// The partition `partition` of `table`, ascending, 100 items a call, eventually consistent.
    pub fn table(table: &'static TableSpec, partition: impl Into<String>) -> Self {
        Self {
            table,
            index: None,
            partition: partition.into(),
            sort: None,
            descending: false,
            limit: 100,
            start_after: None,
            consistent: false,
        }
    }

    /// The partition `partition` of `table`'s index `index`.
    pub fn index(
        table: &'static TableSpec,
        index: &'static IndexSpec,
        partition: impl Into<String>,
    ) -> Self {
        Self {
            index: Some(index),
            ..Self::table(table, partition)
        }
    }

    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }

    pub fn sorted(mut self, sort: SortCondition) -> Self {
        self.sort = Some(sort);
        self
    }

    /// The partition key attribute this query matches on.
    pub fn partition_attribute(&self) -> &'static str {
        self.index
            .map_or(self.table.partition_key, |index| index.partition_key)
    }

    /// The sort key attribute this query orders by, if any.
    pub fn sort_attribute(&self) -> Option<&'static str> {
        match self.index {
            Some(index) => Some(index.sort_key),
            None => self.table.sort_key,
        }
    }

    /// The attributes that identify a position in this query's results (a resume point):
    /// the table's key, plus the index's key when querying an index.
    pub fn position_attributes(&self) -> Vec<&'static str> {
        let mut names = self.table.key_attributes();
        if let Some(index) = self.index {
            for name in [index.partition_key, index.sort_key] {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

impl Query {
    /// `page` as a Query of this index answers it: each item cut to what the table's index
    /// of that name projects (DynamoDB does so itself; a store that keeps items whole, as
    /// SQLite does, calls this so both answer the same).
    pub fn projected(&self, mut page: ItemPage) -> ItemPage {
        let declared = self.index.and_then(|index| self.table.index(index.name));
        if let Some(index) = declared {
            page.items = page
                .items
                .into_iter()
                .map(|item| index.project(self.table, item))
                .collect();
        }
        page
    }
}

/// One call's worth of items, and where the next call resumes (if there may be more).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemPage {
    pub items: Vec<Item>,
    pub last_key: Option<Item>,
}

impl ItemPage {
    /// The items a store read, less those past their TTL (every store answers the same).
    pub fn live(table: &TableSpec, items: Vec<Item>, last_key: Option<Item>) -> Self {
        let items = items
            .into_iter()
            .filter(|item| !crate::port::is_expired(table, item))
            .collect();
        Self { items, last_key }
    }
}

/// The position attributes of `item`, as a resume point.
pub fn position_of(item: &Item, attributes: &[&str]) -> Item {
    let mut position = Item::default();
    for name in attributes {
        if let Some(value) = item.get(*name) {
            position.insert((*name).to_owned(), value.clone());
        }
    }
    position
}
