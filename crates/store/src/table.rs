//! The tables the code uses, described once: their key attributes, indexes, TTL attribute.
//! template.yaml declares the same tables (the emulation creates them from the template, so
//! a mismatch fails the DynamoDB contract tests); the SQLite store creates them from these.

/// A global secondary index: its key attributes are string attributes of the items in it.
#[derive(Debug, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
}

#[derive(Debug, PartialEq, Eq)]
pub struct TableSpec {
    /// The name code and the embedded store use.
    pub name: &'static str,
    /// The environment variable that names the table in AWS (set by the template).
    pub env: &'static str,
    pub partition_key: &'static str,
    pub sort_key: Option<&'static str>,
    pub indexes: &'static [IndexSpec],
    /// An epoch-seconds number attribute after which an item counts as gone.
    pub ttl: Option<&'static str>,
    /// Items are only ever added: the embedded store refuses updates and deletes outright,
    /// and in AWS no function is granted UpdateItem or DeleteItem on it.
    pub append_only: bool,
}

impl TableSpec {
    pub fn index(&self, name: &str) -> Option<&'static IndexSpec> {
        self.indexes.iter().find(|index| index.name == name)
    }

    /// The attribute names that make up a key of this table.
    pub fn key_attributes(&self) -> Vec<&'static str> {
        std::iter::once(self.partition_key)
            .chain(self.sort_key)
            .collect()
    }
}

/// Newest-first listings: items that should be listed carry `listKey` (one value per kind of
/// listing) and `createdKey` (creation time + id), so the sparse index holds just them.
pub const BY_CREATED_AT: IndexSpec = IndexSpec {
    name: "ByCreatedAt",
    partition_key: "listKey",
    sort_key: "createdKey",
};

/// `USER#<id>` (the user, listed) and `EMAIL#<email>` (the uniqueness claim).
pub static USERS: TableSpec = TableSpec {
    name: "users",
    env: "USERS_TABLE",
    partition_key: "pk",
    sort_key: None,
    indexes: &[BY_CREATED_AT],
    ttl: None,
    append_only: false,
};

/// `VENDOR#<id>` / `VENDOR` (active vendors listed), and `AREA#<pincode>` / `VENDOR#<id>`,
/// a copy per served pincode of each active vendor.
pub static VENDORS: TableSpec = TableSpec {
    name: "vendors",
    env: "VENDORS_TABLE",
    partition_key: "pk",
    sort_key: Some("sk"),
    indexes: &[BY_CREATED_AT],
    ttl: None,
    append_only: false,
};

/// `PRODUCT#<id>`; active products are listed.
pub static PRODUCTS: TableSpec = TableSpec {
    name: "products",
    env: "PRODUCTS_TABLE",
    partition_key: "pk",
    sort_key: None,
    indexes: &[BY_CREATED_AT],
    ttl: None,
    append_only: false,
};

/// Stock rows `STOCK#<vendorId>` / `<productId>#<variantId>` and order reservations
/// `RESERVATION#<orderId>` / `RESERVATION`.
pub static INVENTORY: TableSpec = TableSpec {
    name: "inventory",
    env: "INVENTORY_TABLE",
    partition_key: "pk",
    sort_key: Some("sk"),
    indexes: &[],
    ttl: None,
    append_only: false,
};

/// `ENTITY#<entityId>` / `<at>#<auditId>`, newest first per entity.
pub static AUDIT: TableSpec = TableSpec {
    name: "audit",
    env: "AUDIT_TABLE",
    partition_key: "pk",
    sort_key: Some("sk"),
    indexes: &[],
    ttl: None,
    append_only: true,
};

/// Committed events `EVENT#<eventId>` waiting to be published: a DynamoDB stream feeds the
/// publisher in AWS; locally a relay drains them. Expire a week after they were written.
pub static OUTBOX: TableSpec = TableSpec {
    name: "outbox",
    env: "OUTBOX_TABLE",
    partition_key: "pk",
    sort_key: None,
    indexes: &[],
    ttl: Some("expiresAt"),
    append_only: false,
};

/// `USER#<userId>` / `<createdAt>#<notificationId>`, newest first per user.
pub static NOTIFICATIONS: TableSpec = TableSpec {
    name: "notifications",
    env: "NOTIFICATIONS_TABLE",
    partition_key: "pk",
    sort_key: Some("sk"),
    indexes: &[],
    ttl: None,
    append_only: false,
};

/// `CONSUMER#<name>#EVENT#<eventId>`: events a consumer handled, kept two weeks for dedup.
pub static PROCESSED_EVENTS: TableSpec = TableSpec {
    name: "processed_events",
    env: "PROCESSED_EVENTS_TABLE",
    partition_key: "pk",
    sort_key: None,
    indexes: &[],
    ttl: Some("expiresAt"),
    append_only: false,
};

/// The local dead-letter list (in AWS, SQS dead-letter queues hold failed deliveries).
pub static DEAD_LETTERS: TableSpec = TableSpec {
    name: "dead_letters",
    env: "DEAD_LETTERS_TABLE",
    partition_key: "pk",
    sort_key: Some("sk"),
    indexes: &[],
    ttl: None,
    append_only: false,
};

/// Every table, for stores that create them (the embedded one) and for checks.
pub static ALL: [&TableSpec; 9] = [
    &USERS,
    &VENDORS,
    &PRODUCTS,
    &INVENTORY,
    &AUDIT,
    &OUTBOX,
    &NOTIFICATIONS,
    &PROCESSED_EVENTS,
    &DEAD_LETTERS,
];
