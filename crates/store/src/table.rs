//! The tables the code uses, described once: their key attributes, indexes, TTL attribute.
//! template.yaml declares the same tables (the emulation creates them from the template, so
//! a mismatch fails the DynamoDB contract tests); the SQLite store creates them from these.

use crate::item::Item;

/// A global secondary index: its key attributes are string attributes of the items in it.
#[derive(Debug, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    /// What a Query of the index answers of each item (template.yaml's `Projection`).
    pub projection: Projection,
}

/// The attributes an index copies from its table, as DynamoDB's `ProjectionType`. The
/// narrower it is, the fewer writes it takes: a write that changes neither the index keys
/// nor a projected attribute writes nothing to the index, and what it writes is small.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Projection {
    /// The whole item.
    All,
    /// The table's key and the index's key only: a listing reads the items themselves.
    KeysOnly,
}

impl Projection {
    /// The template's `ProjectionType` for it.
    pub fn template_name(self) -> &'static str {
        match self {
            Projection::All => "ALL",
            Projection::KeysOnly => "KEYS_ONLY",
        }
    }
}

impl IndexSpec {
    /// This index's copy of `item` of `table`: what a Query of the index answers.
    pub fn project(&self, table: &TableSpec, mut item: Item) -> Item {
        if self.projection == Projection::KeysOnly {
            let keys = table.key_attributes();
            item.retain(|name, _| {
                keys.contains(&name.as_str()) || name == self.partition_key || name == self.sort_key
            });
        }
        item
    }

    /// The same index with a keys-only projection (an index shared in shape by tables
    /// whose listings read it differently).
    const fn keys_only(mut self) -> Self {
        self.projection = Projection::KeysOnly;
        self
    }
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
    /// A table keyed by `pk` alone, with no index, TTL or append-only rule.
    const fn new(name: &'static str, env: &'static str) -> Self {
        Self {
            name,
            env,
            partition_key: "pk",
            sort_key: None,
            indexes: &[],
            ttl: None,
            append_only: false,
        }
    }

    /// Keyed by `pk` and the sort key `sk`.
    const fn sorted(mut self) -> Self {
        self.sort_key = Some("sk");
        self
    }

    /// With the newest-first listing index.
    const fn listed(mut self) -> Self {
        self.indexes = &[BY_CREATED_AT];
        self
    }

    /// With these indexes (a table with more than one listing per item).
    const fn indexed(mut self, indexes: &'static [IndexSpec]) -> Self {
        self.indexes = indexes;
        self
    }

    /// Items expire at their `expiresAt` (epoch seconds).
    const fn expiring(mut self) -> Self {
        self.ttl = Some("expiresAt");
        self
    }

    const fn append_only(mut self) -> Self {
        self.append_only = true;
        self
    }

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
    projection: Projection::All,
};

/// One customer's items, newest first: `userKey` = `USER#<userId>`, and the same
/// `createdKey` as [`BY_CREATED_AT`] (subscriptions; the orders' is [`ORDERS_BY_USER`]).
pub const BY_USER: IndexSpec = IndexSpec {
    name: "ByUser",
    partition_key: "userKey",
    sort_key: "createdKey",
    projection: Projection::All,
};

/// Every order, newest first ([`BY_CREATED_AT`], `listKey` = `ORDER`). The orders' four
/// indexes project keys only: an order is written about six times on its way, and with ALL
/// each write was copied into every index (54 of a checkout's 139 write units); now an
/// order enters each index once and only a status move writes again (to `ByStatus`, and not
/// between the checkout's statuses, which share a partition). Every listing reads the
/// orders it lists by key, one BatchGetItem a page (`crate::orders`).
pub const ORDERS_BY_CREATED_AT: IndexSpec = BY_CREATED_AT.keys_only();

/// One customer's orders, newest first ([`BY_USER`], keys only as [`ORDERS_BY_CREATED_AT`]).
pub const ORDERS_BY_USER: IndexSpec = BY_USER.keys_only();

/// Orders in one status, newest first: `statusKey` = `ORDER#<status>`, rewritten with the
/// status, and the same `createdKey` as [`BY_CREATED_AT`]; keys only. PENDING,
/// PAYMENT_PENDING and CONFIRMED share `ORDER#IN_CHECKOUT`, so a checkout's move between
/// them writes nothing here (`crate::orders`).
pub const ORDERS_BY_STATUS: IndexSpec = IndexSpec {
    name: "ByStatus",
    partition_key: "statusKey",
    sort_key: "createdKey",
    projection: Projection::KeysOnly,
};

/// One delivery day's orders, in shards: `deliveryDay` = `DAY#<date>#<shard>` with the
/// shard (two digits, 00–07) from the order id, sorted by the same `createdKey` as
/// [`BY_CREATED_AT`]. A day's report reads its [`ORDER_DAY_SHARDS`] partitions, so it costs
/// that day's orders and never the table's. Why eight: the nightly run places a whole day
/// (100,000 orders at the target) within minutes. When this index projected the whole
/// order, each of its six writes on the way (placed, reserved, paid, preparing, out,
/// delivered) was copied here: 1,000 index writes a second of ~2 KB items, twice what one
/// partition takes (1,000 WCU/s). Keys only, an order enters it once, when placed (its
/// delivery date never changes), as one small entry: ≈ 170 a second, within one
/// partition's limit; the shards stay, as headroom, at eight Queries a report. The report
/// reads the orders by key.
pub const ORDERS_BY_DAY: IndexSpec = IndexSpec {
    name: "ByDeliveryDay",
    partition_key: "deliveryDay",
    sort_key: "createdKey",
    projection: Projection::KeysOnly,
};

/// How many partitions one delivery day's orders are spread over ([`ORDERS_BY_DAY`]).
pub const ORDER_DAY_SHARDS: u128 = 8;

/// One vendor's delivery round for a date and slot: `roundKey` =
/// `ROUND#<date>#<slot>#<vendorId>`, sorted by `stopKey` = `<pincode>#<deliveryId>`.
pub const DELIVERIES_BY_ROUND: IndexSpec = IndexSpec {
    name: "ByRound",
    partition_key: "roundKey",
    sort_key: "stopKey",
    projection: Projection::All,
};

/// Every vendor's round for a date and slot (admins): `dayKey` = `ROUND#<date>#<slot>`,
/// the same `stopKey` as [`DELIVERIES_BY_ROUND`].
pub const DELIVERIES_BY_DAY: IndexSpec = IndexSpec {
    name: "ByDay",
    partition_key: "dayKey",
    sort_key: "stopKey",
    projection: Projection::All,
};

/// The live subscriptions of one run shard: `runKey` = `RUN#<shard>` while a subscription
/// is neither cancelled nor past its end (removed then, so the run never reads it again),
/// sorted by the same `createdKey` as [`BY_CREATED_AT`].
pub const SUBSCRIPTIONS_BY_RUN: IndexSpec = IndexSpec {
    name: "ByRun",
    partition_key: "runKey",
    sort_key: "createdKey",
    projection: Projection::All,
};

/// One wallet's ledger in time order: `ledgerKey` = `LEDGER#<userId>`, `atKey` =
/// `<at>#<entryId>`.
pub const LEDGER_BY_TIME: IndexSpec = IndexSpec {
    name: "ByTime",
    partition_key: "ledgerKey",
    sort_key: "atKey",
    projection: Projection::All,
};

/// The admin alerts (events that reached the admin-alerts topic), in time order, sparse:
/// `alertKey` = `ALERT` on each alert's `ALERT#<eventId>` item and `ALERT#<EVENT_TYPE>` on
/// its `ALERT#<eventId>#TYPED` copy, so every alert and one type's alerts are each one Query;
/// `occurredKey` = `<occurredAt>#<eventId>`. Analytics entries carry no `alertKey`.
pub const ANALYTICS_BY_ALERT: IndexSpec = IndexSpec {
    name: "ByAlert",
    partition_key: "alertKey",
    sort_key: "occurredKey",
    projection: Projection::All,
};

/// The newsletter's audience, oldest first: `newsletterKey` = `NEWSLETTER` on the active
/// customers with newsletterOptIn only (removed when they opt out), the same `createdKey`
/// as [`BY_CREATED_AT`].
pub const USERS_BY_NEWSLETTER: IndexSpec = IndexSpec {
    name: "ByNewsletter",
    partition_key: "newsletterKey",
    sort_key: "createdKey",
    projection: Projection::All,
};

/// Every user, newest first ([`BY_CREATED_AT`], `listKey` = `USER`), keys only: a user is
/// written at every login and order (its orderCount), and with ALL each write was copied
/// here too; now only registration writes the index, and the admin's listing reads the
/// users by key, one BatchGetItem a page.
pub const USERS_BY_CREATED_AT: IndexSpec = BY_CREATED_AT.keys_only();

/// `USER#<id>` (the user, listed; opted-in customers also in `ByNewsletter`) and
/// `EMAIL#<email>` (the uniqueness claim).
pub static USERS: TableSpec =
    TableSpec::new("users", "USERS_TABLE").indexed(&[USERS_BY_CREATED_AT, USERS_BY_NEWSLETTER]);

/// `VENDOR#<id>` / `VENDOR` (active vendors listed), and `AREA#<pincode>` / `VENDOR#<id>`,
/// a copy per served pincode of each active vendor.
pub static VENDORS: TableSpec = TableSpec::new("vendors", "VENDORS_TABLE").sorted().listed();

/// `PRODUCT#<id>`; active products are listed.
pub static PRODUCTS: TableSpec = TableSpec::new("products", "PRODUCTS_TABLE").listed();

/// Stock rows `STOCK#<vendorId>` / `<productId>#<variantId>` and order reservations
/// `RESERVATION#<orderId>` / `RESERVATION`.
pub static INVENTORY: TableSpec = TableSpec::new("inventory", "INVENTORY_TABLE").sorted();

/// `ORDER#<orderId>`, in three newest-first listings: every order (`ByCreatedAt`, listKey
/// `ORDER`), its customer's (`ByUser`) and its status's (`ByStatus`); and by delivery day
/// (`ByDeliveryDay`, sharded) for the daily report.
pub static ORDERS: TableSpec = TableSpec::new("orders", "ORDERS_TABLE").indexed(&[
    ORDERS_BY_CREATED_AT,
    ORDERS_BY_USER,
    ORDERS_BY_STATUS,
    ORDERS_BY_DAY,
]);

/// `PAYMENT#<paymentId>`, the id derived from its order; and, from before the derived ids,
/// `PAYMENT_OF#<orderId>` (the order's one payment claimed, naming its paymentId).
pub static PAYMENTS: TableSpec = TableSpec::new("payments", "PAYMENTS_TABLE");

/// `DELIVERY#<deliveryId>`, in its vendor's round (`ByRound`) and its day's round across
/// vendors (`ByDay`). An order's deliveries are the ones it names (`deliveryIds`).
pub static DELIVERIES: TableSpec = TableSpec::new("deliveries", "DELIVERIES_TABLE")
    .indexed(&[DELIVERIES_BY_ROUND, DELIVERIES_BY_DAY]);

/// `ENTITY#<entityId>` / `<at>#<auditId>`, newest first per entity.
pub static AUDIT: TableSpec = TableSpec::new("audit", "AUDIT_TABLE")
    .sorted()
    .append_only();

/// Committed events `EVENT#<eventId>` waiting to be published: a DynamoDB stream feeds the
/// publisher in AWS; locally a relay drains them. Expire a week after they were written.
pub static OUTBOX: TableSpec = TableSpec::new("outbox", "OUTBOX_TABLE").expiring();

/// `USER#<userId>` / `<createdAt>#<notificationId>`, newest first per user; and
/// `PROMOTION#<promotionId>` / `PROMOTION`, a promotion and its progress.
pub static NOTIFICATIONS: TableSpec =
    TableSpec::new("notifications", "NOTIFICATIONS_TABLE").sorted();

/// `CONSUMER#<name>#EVENT#<eventId>`: events a consumer handled, kept two weeks for dedup.
pub static PROCESSED_EVENTS: TableSpec =
    TableSpec::new("processed_events", "PROCESSED_EVENTS_TABLE").expiring();

/// `LOGIN#<attempter>#<windowStart>`: failed logins counted in fixed windows; expire with
/// their window.
pub static LOGIN_ATTEMPTS: TableSpec =
    TableSpec::new("login_attempts", "LOGIN_ATTEMPTS_TABLE").expiring();

/// `CART#<userId>`: each customer's one cart, expiring 30 idle days after its last change.
pub static CARTS: TableSpec = TableSpec::new("carts", "CARTS_TABLE").expiring();

/// `IDEMPOTENCY#<scope>#<userId>#<key>`: a client's Idempotency-Key, claimed by one
/// request and then holding its response for replay; expires a day after its last write.
pub static IDEMPOTENCY: TableSpec = TableSpec::new("idempotency", "IDEMPOTENCY_TABLE").expiring();

/// `SUBSCRIPTION#<id>`: every subscription (`ByCreatedAt`, listKey `SUBSCRIPTION`), its
/// customer's (`ByUser`) and the run's live ones (`ByRun`); and `VACATION#<userId>`, a
/// customer's one vacation.
pub static SUBSCRIPTIONS: TableSpec = TableSpec::new("subscriptions", "SUBSCRIPTIONS_TABLE")
    .indexed(&[BY_CREATED_AT, BY_USER, SUBSCRIPTIONS_BY_RUN]);

/// `WALLET#<userId>` / `BALANCE` (the balance) and `WALLET#<userId>` / `ENTRY#<entryId>`
/// (its ledger, each entry put only if absent), the entries in time order in `ByTime`.
pub static WALLETS: TableSpec = TableSpec::new("wallets", "WALLETS_TABLE")
    .sorted()
    .indexed(&[LEDGER_BY_TIME]);

/// `<EVENT_TYPE>#<YYYY-MM-DD>` / `<occurredAt>#<eventId>`: the analytics log, one entry per
/// event (put only if absent), one type's day (Asia/Kolkata) a partition in time order, so a
/// day's listing needs no index; and the admin alerts, `ALERT#<eventId>` and its
/// `ALERT#<eventId>#TYPED` copy (put together, only if absent), listed in `ByAlert`; every
/// item expiring 400 days after its event occurred.
pub static ANALYTICS: TableSpec = TableSpec::new("analytics", "ANALYTICS_TABLE")
    .sorted()
    .indexed(&[ANALYTICS_BY_ALERT])
    .expiring();

/// `REPORT#<date>`: the daily report of one delivery date, replaced by a rerun.
pub static REPORTS: TableSpec = TableSpec::new("reports", "REPORTS_TABLE");

/// The local dead-letter list (in AWS, SQS dead-letter queues hold failed deliveries).
pub static DEAD_LETTERS: TableSpec = TableSpec::new("dead_letters", "DEAD_LETTERS_TABLE").sorted();

/// Every table, for stores that create them (the embedded one) and for checks.
pub static ALL: [&TableSpec; 19] = [
    &USERS,
    &VENDORS,
    &PRODUCTS,
    &INVENTORY,
    &AUDIT,
    &OUTBOX,
    &NOTIFICATIONS,
    &PROCESSED_EVENTS,
    &LOGIN_ATTEMPTS,
    &DEAD_LETTERS,
    &CARTS,
    &IDEMPOTENCY,
    &ORDERS,
    &PAYMENTS,
    &DELIVERIES,
    &SUBSCRIPTIONS,
    &WALLETS,
    &ANALYTICS,
    &REPORTS,
];
