//! Orders: what a customer bought, priced from the catalog when they checked out, and the one
//! table of status moves (SPEC §3) every service obeys, so no path can skip a step.

use std::fmt;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::DomainError;
use crate::inventory::{StockKey, StockLine};
use crate::lifecycle::{self, Lifecycle, Timeline, Tracked};
use crate::money::Money;
use crate::user::Address;
use crate::values::{DeliverySlot, InvalidValue, PaymentMethod, closed_set};

closed_set!(
    /// Where an order is in its life.
    OrderStatus {
        Pending => "PENDING", PaymentPending => "PAYMENT_PENDING", PaymentFailed => "PAYMENT_FAILED",
        OnHold => "ON_HOLD", Confirmed => "CONFIRMED", Preparing => "PREPARING",
        OutForDelivery => "OUT_FOR_DELIVERY", Delivered => "DELIVERED", Cancelled => "CANCELLED",
        Refunded => "REFUNDED", Failed => "FAILED",
    }
    "must be one of PENDING, PAYMENT_PENDING, PAYMENT_FAILED, ON_HOLD, CONFIRMED, PREPARING, OUT_FOR_DELIVERY, DELIVERED, CANCELLED, REFUNDED, FAILED"
);

impl Lifecycle for OrderStatus {
    const ENTITY: &'static str = "An order";
    const STATUSES: &'static [Self] = &Self::ALL;

    /// SPEC §3's transition table, the only one: a move not listed here is refused.
    /// Read row by row against the SPEC; the tests hold it to a matrix written out in full.
    fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Pending, PaymentPending | Failed | Cancelled)
                | (
                    PaymentPending,
                    Confirmed | OnHold | PaymentFailed | Cancelled
                )
                | (PaymentFailed, PaymentPending | Cancelled)
                | (OnHold, Confirmed | Cancelled)
                | (Confirmed, Preparing | Cancelled)
                | (Preparing, OutForDelivery | Cancelled)
                | (OutForDelivery, Delivered | Cancelled)
                | (Cancelled | Delivered, Refunded)
        )
    }
}

impl OrderStatus {
    /// The statuses a checkout execution moves an order out of within seconds: an order
    /// found in one long after its last change has a stalled run (the sweeper's listing).
    /// The order store keeps these in one index partition: changing the list moves stored
    /// index keys, which needs a migration (docs/deploying.md).
    pub const IN_CHECKOUT: [OrderStatus; 3] = [
        OrderStatus::Pending,
        OrderStatus::PaymentPending,
        OrderStatus::Confirmed,
    ];

    /// Whether `self` is one of [`Self::IN_CHECKOUT`].
    pub fn is_in_checkout(self) -> bool {
        Self::IN_CHECKOUT.contains(&self)
    }

    /// Whether SPEC §3's table allows `self` → `to` ([`Lifecycle::can_become`]).
    pub fn can_become(self, to: OrderStatus) -> bool {
        Lifecycle::can_become(self, to)
    }

    /// No move leads out of it (FAILED and REFUNDED).
    pub fn is_terminal(self) -> bool {
        self.is_final()
    }

    /// The owner may cancel until the order leaves with a driver (SPEC §4: "before
    /// OUT_FOR_DELIVERY"), and only where the table allows CANCELLED at all.
    pub fn is_cancellable_by_owner(self) -> bool {
        use OrderStatus::*;
        let before_dispatch = matches!(
            self,
            Pending | PaymentPending | PaymentFailed | OnHold | Confirmed | Preparing
        );
        before_dispatch && self.can_become(Cancelled)
    }
}

/// `Ok` when the table allows `from` → `to`, else a 409 `INVALID_TRANSITION` naming both.
/// Staying put is not a move: a retried step checks the current status before calling this.
pub fn transition(from: OrderStatus, to: OrderStatus) -> Result<(), DomainError> {
    lifecycle::transition(from, to)
}

/// A legal move that only an admin may make: refunding a DELIVERED order (SPEC §3) gives
/// money back for goods the customer kept, which is a judgement, not a workflow step.
/// The caller checks the actor's role; [`transition`] checks only the table.
pub fn needs_admin(from: OrderStatus, to: OrderStatus) -> bool {
    from == OrderStatus::Delivered && to == OrderStatus::Refunded
}

/// One line of an order, priced from the catalog at checkout and kept as it was then, so a
/// later price change never alters what the customer agreed to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    /// The product's name at checkout.
    pub name: String,
    /// "500ml", "1L" at checkout.
    pub variant_name: String,
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: u32,
    pub unit_price: Money,
    /// The vendor assigned to deliver it; `null` until vendors are assigned.
    #[serde(default)]
    pub vendor_id: Option<Uuid>,
    /// False when the vendor was short and the customer allowed a partial order: the line
    /// stays so they see it, and counts for nothing.
    pub fulfilled: bool,
}

impl OrderItem {
    /// `unitPrice × quantity`, or `None` on overflow.
    pub fn line_total(&self) -> Option<Money> {
        self.unit_price.times(self.quantity)
    }

    pub fn is_line(&self, product_id: Uuid, variant_id: Uuid) -> bool {
        self.product_id == product_id && self.variant_id == variant_id
    }
}

/// One entry of an order's timeline: who moved it where, when, and why.
pub type StatusChange = lifecycle::StatusChange<OrderStatus>;

crate::status_change_schema!(
    /// One entry of an order's timeline: who moved it where, when, and why.
    OrderStatus,
    "StatusChange",
    "A userId, or the name of the step that moved it (e.g. `checkout`)."
);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderFlags {
    /// Some items were short and the order went ahead without them.
    #[serde(default)]
    pub partial_fulfillment: bool,
    /// A fraud rule fired; the order waited ON_HOLD for a manager.
    #[serde(default)]
    pub fraud_flag: bool,
}

/// An order's money: `total = subtotal − discount`, over the fulfilled items only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderTotals {
    pub subtotal: Money,
    pub discount: Money,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub items: Vec<OrderItem>,
    pub subtotal: Money,
    pub discount: Money,
    pub total: Money,
    pub status: OrderStatus,
    /// Oldest first; the first entry is PENDING.
    pub status_history: Vec<StatusChange>,
    /// A calendar day in the platform's time zone.
    pub delivery_date: NaiveDate,
    pub delivery_slot: DeliverySlot,
    pub delivery_address: Address,
    pub payment_method: PaymentMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<Uuid>,
    #[serde(default)]
    pub delivery_ids: Vec<Uuid>,
    #[serde(default)]
    pub flags: OrderFlags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The customer's `allowPartial`: when vendors are short of some items, checkout goes
    /// ahead without them (they become `fulfilled: false`, out of the totals) instead of
    /// failing OUT_OF_STOCK.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_partial: bool,
    /// The `paymentToken` the customer sent, which the payment step charges with (the
    /// simulated gateway answers by it); `None` charges with the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub payment_token: Option<String>,
    /// When `POST /payments` last started a retry of this PAYMENT_FAILED order (see
    /// [`Order::retry_under_way`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub retry_started_at: Option<DateTime<Utc>>,
    /// How often the stalled-checkout sweep started this order's checkout again: capped, so
    /// an order whose runs keep dying is ended instead of started forever.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schema(ignore)]
    pub resumes: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    #[schema(ignore)]
    pub version: u64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Order {
    /// What goes back of `paid` when the order ends without the deliveries of the vendors
    /// `delivered_by` being undone: `paid` less the delivered lines' share of it (their
    /// value × paid ÷ subtotal, rounded half up, so a discount is shared pro rata). Nobody
    /// delivered: all of `paid`; without a discount, exactly the undelivered lines' value.
    pub fn refund_due(&self, paid: Money, delivered_by: &[Uuid]) -> Money {
        let value = |delivered: bool| -> u128 {
            self.items
                .iter()
                .filter(|item| item.fulfilled)
                .filter(|item| {
                    item.vendor_id.is_some_and(|v| delivered_by.contains(&v)) == delivered
                })
                .map(|item| u128::from(item.unit_price.amount) * u128::from(item.quantity))
                .sum()
        };
        let (kept, subtotal) = (value(true), value(true) + value(false));
        if subtotal == 0 {
            return paid;
        }
        let paid_paise = u128::from(paid.amount);
        let kept = (paid_paise * kept + subtotal / 2) / subtotal;
        let due = u64::try_from(paid_paise.saturating_sub(kept)).unwrap_or(paid.amount);
        Money {
            amount: due,
            ..paid
        }
    }
}

/// What checkout has settled before the order is written: priced items, their totals, and
/// where, when and how it is delivered and paid.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub items: Vec<OrderItem>,
    pub totals: OrderTotals,
    pub delivery_date: NaiveDate,
    pub delivery_slot: DeliverySlot,
    pub delivery_address: Address,
    pub payment_method: PaymentMethod,
    pub subscription_id: Option<Uuid>,
    pub idempotency_key: Option<String>,
}

/// How long a started payment retry keeps other requests from starting another. Its
/// execution's first step moves the order on within seconds; a start lost to a crash is
/// made by the next request after this.
pub const RETRY_LEASE: TimeDelta = TimeDelta::seconds(30);

impl Order {
    /// Whether a payment retry started since the order last became PAYMENT_FAILED, less
    /// than [`RETRY_LEASE`] before `now`: another request must not start a second one
    /// (Express executions are not deduplicated by name).
    pub fn retry_under_way(&self, now: DateTime<Utc>) -> bool {
        let Some(started) = self.retry_started_at else {
            return false;
        };
        let failed_at = self
            .status_history
            .iter()
            .rev()
            .find(|change| change.status == OrderStatus::PaymentFailed)
            .map(|change| change.at);
        failed_at.is_none_or(|at| started >= at) && now - started < RETRY_LEASE
    }

    /// A PENDING order whose timeline starts with its placing by `by`.
    pub fn place(new: NewOrder, by: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            order_id: new.order_id,
            user_id: new.user_id,
            items: new.items,
            subtotal: new.totals.subtotal,
            discount: new.totals.discount,
            total: new.totals.total,
            status: OrderStatus::Pending,
            status_history: vec![StatusChange::new(OrderStatus::Pending, by, now)],
            delivery_date: new.delivery_date,
            delivery_slot: new.delivery_slot,
            delivery_address: new.delivery_address,
            payment_method: new.payment_method,
            payment_id: None,
            delivery_ids: Vec::new(),
            flags: OrderFlags::default(),
            subscription_id: new.subscription_id,
            idempotency_key: new.idempotency_key,
            allow_partial: false,
            payment_token: None,
            retry_started_at: None,
            resumes: 0,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// Moves the order along the table and records who did it and why; a move the table
    /// does not allow changes nothing. Whether the actor may make it ([`needs_admin`], the
    /// owner's cancel) is the caller's check.
    pub fn move_to(
        &mut self,
        to: OrderStatus,
        by: impl Into<String>,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        Tracked::move_to(self, to, by, reason, now)
    }

    /// The stock the order claims: each fulfilled item that has a vendor, one line each.
    pub fn stock_lines(&self) -> Vec<StockLine> {
        self.items
            .iter()
            .filter(|item| item.fulfilled)
            .filter_map(|item| {
                item.vendor_id.map(|vendor_id| StockLine {
                    key: StockKey {
                        vendor_id,
                        product_id: item.product_id,
                        variant_id: item.variant_id,
                    },
                    quantity: item.quantity,
                })
            })
            .collect()
    }

    /// The vendors delivering the fulfilled items, each once, in id order.
    pub fn vendor_ids(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self
            .items
            .iter()
            .filter(|item| item.fulfilled)
            .filter_map(|item| item.vendor_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

impl Tracked for Order {
    type Status = OrderStatus;

    fn timeline(&mut self) -> Timeline<'_, OrderStatus> {
        Timeline {
            status: &mut self.status,
            history: &mut self.status_history,
            updated_at: &mut self.updated_at,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::error::ErrorCode;
    use crate::values::{AddressLabel, Pincode};
    use OrderStatus::*;

    /// SPEC §3's table written out again, independently of [`OrderStatus::can_become`]:
    /// every status, and everything it may become. Anything absent is refused.
    const EXPECTED: [(OrderStatus, &[OrderStatus]); 11] = [
        (Pending, &[PaymentPending, Failed, Cancelled]),
        (
            PaymentPending,
            &[Confirmed, OnHold, PaymentFailed, Cancelled],
        ),
        (PaymentFailed, &[PaymentPending, Cancelled]),
        (OnHold, &[Confirmed, Cancelled]),
        (Confirmed, &[Preparing, Cancelled]),
        (Preparing, &[OutForDelivery, Cancelled]),
        (OutForDelivery, &[Delivered, Cancelled]),
        (Delivered, &[Refunded]),
        (Cancelled, &[Refunded]),
        (Refunded, &[]),
        (Failed, &[]),
    ];

    pub(crate) fn address() -> Address {
        Address {
            label: AddressLabel::parse("home").unwrap(),
            line1: "12 MG Road".into(),
            line2: None,
            city: "Bengaluru".into(),
            state: "KA".into(),
            pincode: Pincode::parse("560001").unwrap(),
            country: "IN".into(),
            is_default: true,
        }
    }

    pub(crate) fn item(n: u128, unit_price: u64, quantity: u32) -> OrderItem {
        OrderItem {
            product_id: Uuid::from_u128(n),
            variant_id: Uuid::from_u128(100 + n),
            name: format!("Product {n}"),
            variant_name: "1L".into(),
            quantity,
            unit_price: Money::inr(unit_price),
            vendor_id: None,
            fulfilled: true,
        }
    }

    pub(crate) fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 10, h, m, 0).unwrap()
    }

    pub(crate) fn order(items: Vec<OrderItem>) -> Order {
        let subtotal = items
            .iter()
            .map(|i| i.line_total().unwrap().amount)
            .sum::<u64>();
        let new = NewOrder {
            order_id: Uuid::from_u128(42),
            user_id: Uuid::from_u128(7),
            items,
            totals: OrderTotals {
                subtotal: Money::inr(subtotal),
                discount: Money::inr(0),
                total: Money::inr(subtotal),
            },
            delivery_date: NaiveDate::from_ymd_opt(2025, 3, 12).unwrap(),
            delivery_slot: DeliverySlot::Morning,
            delivery_address: address(),
            payment_method: PaymentMethod::Upi,
            subscription_id: None,
            idempotency_key: Some("key-1".into()),
        };
        Order::place(new, "user-7", at(6, 0))
    }

    #[test]
    fn the_refund_due_is_the_undelivered_lines_share_of_what_was_paid() {
        let (a, b) = (Uuid::from_u128(0xA), Uuid::from_u128(0xB));
        let with = |product, price, quantity, vendor| OrderItem {
            vendor_id: Some(vendor),
            ..item(product, price, quantity)
        };
        let mut order = order(vec![with(1, 6_000, 2, a), with(2, 4_000, 1, b)]);
        let short = OrderItem {
            fulfilled: false,
            ..with(3, 9_000, 1, b)
        };
        order.items.push(short);
        let paid = Money::inr(16_000);
        assert_eq!(order.refund_due(paid, &[]), paid, "nobody delivered: all");
        assert_eq!(order.refund_due(paid, &[a]), Money::inr(4_000), "B's curd");
        assert_eq!(order.refund_due(paid, &[b]), Money::inr(12_000), "A's milk");
        assert_eq!(order.refund_due(paid, &[a, b]), Money::inr(0));
        // A discount is shared pro rata: 15,001 paid, A's 12,000 of 16,000 keeps 11,250.75
        // → 11,251, so 3,750 goes back.
        assert_eq!(
            order.refund_due(Money::inr(15_001), &[a]),
            Money::inr(3_750)
        );
    }

    #[test]
    fn every_status_round_trips_through_its_name_and_json() {
        let names: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "PENDING",
                "PAYMENT_PENDING",
                "PAYMENT_FAILED",
                "ON_HOLD",
                "CONFIRMED",
                "PREPARING",
                "OUT_FOR_DELIVERY",
                "DELIVERED",
                "CANCELLED",
                "REFUNDED",
                "FAILED"
            ]
        );
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
            assert_eq!(serde_json::from_str::<OrderStatus>(&json).unwrap(), status);
        }
        assert!(OrderStatus::parse("pending").is_err());
        assert!(OrderStatus::parse("SHIPPED").is_err());
    }

    #[test]
    fn the_transition_table_is_exactly_the_specs_for_every_pair() {
        let froms: Vec<OrderStatus> = EXPECTED.iter().map(|(from, _)| *from).collect();
        for status in OrderStatus::ALL {
            assert_eq!(
                froms.iter().filter(|f| **f == status).count(),
                1,
                "{status} must have exactly one row in the expected table"
            );
        }
        let mut checked = 0;
        for (from, allowed) in EXPECTED {
            for to in OrderStatus::ALL {
                let expected = allowed.contains(&to);
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                assert_eq!(transition(from, to).is_ok(), expected, "{from} -> {to}");
                checked += 1;
            }
        }
        assert_eq!(checked, 121, "11 × 11 pairs");
    }

    #[test]
    fn a_refused_move_is_invalid_transition_naming_both_ends() {
        let error = transition(Confirmed, Delivered).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidTransition);
        assert_eq!(error.code().status(), 409);
        let message = error.to_string();
        assert!(
            message.contains("CONFIRMED") && message.contains("DELIVERED"),
            "{message}"
        );
        assert!(
            transition(Pending, Pending).is_err(),
            "staying put is not a move"
        );
    }

    #[test]
    fn failed_and_refunded_are_terminal_and_nothing_else_is() {
        for status in OrderStatus::ALL {
            assert_eq!(
                status.is_terminal(),
                matches!(status, Failed | Refunded),
                "{status}"
            );
        }
    }

    #[test]
    fn only_refunding_a_delivered_order_needs_an_admin() {
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                assert_eq!(
                    needs_admin(from, to),
                    (from, to) == (Delivered, Refunded),
                    "{from} -> {to}"
                );
            }
        }
        assert!(
            !needs_admin(Cancelled, Refunded),
            "a cancelled order is refunded by the workflow"
        );
    }

    #[test]
    fn the_owner_may_cancel_until_the_order_is_out_for_delivery() {
        let expected = [
            (Pending, true),
            (PaymentPending, true),
            (PaymentFailed, true),
            (OnHold, true),
            (Confirmed, true),
            (Preparing, true),
            (OutForDelivery, false),
            (Delivered, false),
            (Cancelled, false),
            (Refunded, false),
            (Failed, false),
        ];
        for (status, cancellable) in expected {
            assert_eq!(status.is_cancellable_by_owner(), cancellable, "{status}");
            if cancellable {
                assert!(status.can_become(Cancelled), "{status}");
            }
        }
    }

    #[test]
    fn a_placed_order_is_pending_with_its_first_history_entry() {
        let order = order(vec![item(1, 5_400, 2)]);
        assert_eq!(order.status, Pending);
        assert_eq!(order.status_history.len(), 1);
        assert_eq!(order.status_history[0].status, Pending);
        assert_eq!(order.status_history[0].by, "user-7");
        assert_eq!((order.created_at, order.updated_at), (at(6, 0), at(6, 0)));
        assert_eq!(order.flags, OrderFlags::default());
    }

    #[test]
    fn moving_appends_to_the_history_and_a_refused_move_changes_nothing() {
        let mut order = order(vec![item(1, 5_400, 2)]);
        order
            .move_to(PaymentPending, "checkout", None, at(6, 1))
            .unwrap();
        order
            .move_to(OnHold, "checkout", Some("ABOVE_LIMIT".into()), at(6, 2))
            .unwrap();
        assert_eq!(order.status, OnHold);
        assert_eq!(order.updated_at, at(6, 2));
        let last = order.status_history.last().unwrap();
        assert_eq!(
            (last.status, last.by.as_str(), last.reason.as_deref()),
            (OnHold, "checkout", Some("ABOVE_LIMIT"))
        );
        let before = order.clone();
        let refused = order
            .move_to(Delivered, "admin", None, at(7, 0))
            .unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidTransition);
        assert_eq!(order, before, "nothing changed");
    }

    #[test]
    fn stock_lines_and_vendors_cover_fulfilled_assigned_items_only() {
        let mut a = item(1, 100, 2);
        a.vendor_id = Some(Uuid::from_u128(900));
        let mut b = item(2, 100, 3);
        b.vendor_id = Some(Uuid::from_u128(800));
        let mut short = item(3, 100, 4);
        short.vendor_id = Some(Uuid::from_u128(700));
        short.fulfilled = false;
        let mut same_vendor = item(4, 100, 1);
        same_vendor.vendor_id = Some(Uuid::from_u128(900));
        let unassigned = item(5, 100, 1);
        let order = order(vec![a, b, short, same_vendor, unassigned]);
        let lines = order.stock_lines();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].key.vendor_id, Uuid::from_u128(900));
        assert_eq!(lines[0].quantity, 2);
        assert_eq!(
            order.vendor_ids(),
            [Uuid::from_u128(800), Uuid::from_u128(900)]
        );
    }

    #[test]
    fn the_order_serializes_with_the_spec_field_names() {
        let order = order(vec![item(1, 5_400, 2)]);
        let json = serde_json::to_value(&order).unwrap();
        for field in [
            "orderId",
            "userId",
            "items",
            "subtotal",
            "discount",
            "total",
            "status",
            "statusHistory",
            "deliveryDate",
            "deliverySlot",
            "deliveryAddress",
            "paymentMethod",
            "deliveryIds",
            "flags",
            "idempotencyKey",
            "createdAt",
            "updatedAt",
        ] {
            assert!(json.get(field).is_some(), "{field} missing");
        }
        assert_eq!(json["deliveryDate"], "2025-03-12");
        assert_eq!(json["status"], "PENDING");
        assert_eq!(
            json["flags"],
            serde_json::json!({"partialFulfillment": false, "fraudFlag": false})
        );
        let item = &json["items"][0];
        for field in [
            "productId",
            "variantId",
            "name",
            "variantName",
            "quantity",
            "unitPrice",
            "vendorId",
            "fulfilled",
        ] {
            assert!(item.get(field).is_some(), "items[0].{field} missing");
        }
        let back: Order = serde_json::from_value(json).unwrap();
        assert_eq!(back, order);
    }

    #[test]
    fn a_started_retry_is_under_way_for_its_lease_until_the_order_fails_again() {
        let mut order = order(vec![item(1, 5_000, 1)]);
        order
            .move_to(PaymentPending, "checkout", None, at(6, 0))
            .unwrap();
        order
            .move_to(PaymentFailed, "checkout", None, at(6, 1))
            .unwrap();
        assert!(!order.retry_under_way(at(6, 2)), "none started");
        order.retry_started_at = Some(at(6, 2));
        assert!(order.retry_under_way(at(6, 2) + TimeDelta::seconds(29)));
        assert!(
            !order.retry_under_way(at(6, 2) + RETRY_LEASE),
            "a lost start is made again"
        );
        order
            .move_to(PaymentPending, "checkout", None, at(6, 3))
            .unwrap();
        order
            .move_to(PaymentFailed, "checkout", None, at(6, 3))
            .unwrap();
        assert!(
            !order.retry_under_way(at(6, 3)),
            "declined again: the next retry may start"
        );
    }
}
