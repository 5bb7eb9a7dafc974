//! The delivery service's use cases, free of HTTP.
//!
//! - A round: one page of a date and slot's deliveries (one vendor's, or every vendor's for
//!   an admin), by pincode then delivery id as the store keeps them, each with the items it
//!   carries read from its order; [`RoundSheet`] groups the page by pincode and totals what
//!   to load.
//! - A delivery's progress: a compare-and-swap move along the delivery table with its audit
//!   entry and its DELIVERY_UPDATED event in the same write, retried from a fresh read when
//!   another request saved in between; then the order follows its deliveries.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};
use milkrun_checkout::{CheckoutPorts, OrderActions};
use milkrun_domain::audit::AuditContext;
use milkrun_domain::delivery::{Delivery, DeliveryStatus};
use milkrun_domain::events::{DeliveryNews, DeliveryUpdated};
use milkrun_domain::order::Order;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{DeliveryStore, OrderReads};
use milkrun_domain::user::Address;
use milkrun_domain::values::DeliverySlot;
use milkrun_domain::{DomainError, Effects};
use milkrun_platform::Adapters;
use milkrun_store::retry::retry_on_conflict;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

const ENTITY: &str = "DELIVERY";
const ACTION: &str = "DELIVERY_UPDATED";
/// Orders read at once while a round's page is filled in.
const ORDER_READS_IN_FLIGHT: usize = 16;

/// Whose deliveries a caller reaches: every vendor's (an admin), or one vendor's (that
/// vendor's users).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Admin,
    Vendor(Uuid),
}

impl Reach {
    pub fn covers(self, vendor_id: Uuid) -> bool {
        match self {
            Reach::Admin => true,
            Reach::Vendor(own) => own == vendor_id,
        }
    }
}

/// What a PATCH asks of one delivery: its status (possibly the one it has), and a driver
/// or a proof of delivery to record (`None`: left as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryChange {
    pub status: DeliveryStatus,
    pub driver_id: Option<Uuid>,
    pub proof_url: Option<String>,
}

/// One line to carry (or, in the load, the total to load of one product variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoundItem {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    /// The product's name at checkout.
    pub name: String,
    /// "500ml", "1L" at checkout.
    pub variant_name: String,
    #[schema(minimum = 1)]
    pub quantity: u32,
}

/// One stop of the round: a delivery, where it goes and what it carries (its order's
/// fulfilled items of the delivery's vendor).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoundStop {
    pub delivery_id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub vendor_id: Uuid,
    pub status: DeliveryStatus,
    pub address: Address,
    pub items: Vec<RoundItem>,
}

/// The stops of one pincode, by delivery id.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PincodeStops {
    /// 6 digits.
    #[schema(value_type = String, pattern = r"^[0-9]{6}$")]
    pub pincode: String,
    pub deliveries: Vec<RoundStop>,
    /// The same deliveries by door: one stop per address, with every delivery's items for
    /// it summed, so a household with five subscriptions is one knock, not five.
    pub stops: Vec<AddressStop>,
}

/// One door of the round: every delivery of the page to this address.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressStop {
    pub address: Address,
    pub delivery_ids: Vec<Uuid>,
    pub order_ids: Vec<Uuid>,
    /// What to hand over here: the deliveries' items summed per product variant.
    pub items: Vec<RoundItem>,
}

/// Where a door is, whatever the case and spacing it was typed with.
fn door(address: &Address) -> String {
    let parts = [
        address.line1.as_str(),
        address.line2.as_deref().unwrap_or(""),
        address.city.as_str(),
        address.pincode.as_str(),
    ];
    parts
        .map(|p| {
            p.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .join("|")
}

/// `deliveries` by door, in the order each door first comes.
fn by_door(deliveries: &[RoundStop]) -> Vec<AddressStop> {
    let mut stops: Vec<(String, AddressStop)> = Vec::new();
    for delivery in deliveries {
        let key = door(&delivery.address);
        let index = match stops.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                let stop = AddressStop {
                    address: delivery.address.clone(),
                    delivery_ids: Vec::new(),
                    order_ids: Vec::new(),
                    items: Vec::new(),
                };
                stops.push((key, stop));
                stops.len() - 1
            }
        };
        let stop = &mut stops[index].1;
        stop.delivery_ids.push(delivery.delivery_id);
        stop.order_ids.push(delivery.order_id);
        for item in &delivery.items {
            let same = |i: &&mut RoundItem| {
                (i.product_id, i.variant_id) == (item.product_id, item.variant_id)
            };
            match stop.items.iter_mut().find(same) {
                Some(line) => line.quantity += item.quantity,
                None => stop.items.push(item.clone()),
            }
        }
    }
    stops.into_iter().map(|(_, stop)| stop).collect()
}

/// One page of a round, grouped by pincode (pincodes ascending; a pincode cut by the page
/// continues as the first group of the next page), with what to load for this page.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoundSheet {
    pub date: NaiveDate,
    pub slot: DeliverySlot,
    pub pincodes: Vec<PincodeStops>,
    /// Units to load for this page's deliveries, per product variant (by name, then variant
    /// name): the sum of their items.
    pub load: Vec<RoundItem>,
    /// The next page of this same round (same date, slot and vendor), or `null`.
    pub next_cursor: Option<String>,
}

impl RoundSheet {
    /// Groups a page of stops, kept in the store's order (pincode, then delivery id), by
    /// consecutive pincode, and totals its items.
    pub fn of(date: NaiveDate, slot: DeliverySlot, page: Page<RoundStop>) -> Self {
        let load = load_of(&page.items);
        let mut pincodes: Vec<PincodeStops> = Vec::new();
        for stop in page.items {
            let pincode = stop.address.pincode.as_str();
            match pincodes.last_mut() {
                Some(group) if group.pincode == pincode => group.deliveries.push(stop),
                _ => pincodes.push(PincodeStops {
                    pincode: pincode.to_owned(),
                    deliveries: vec![stop],
                    stops: Vec::new(),
                }),
            }
        }
        for group in &mut pincodes {
            group.stops = by_door(&group.deliveries);
        }
        Self {
            date,
            slot,
            pincodes,
            load,
            next_cursor: page.next_cursor,
        }
    }
}

/// The stops' items summed per product variant, by name, then variant name, then ids.
fn load_of(stops: &[RoundStop]) -> Vec<RoundItem> {
    let mut totals: HashMap<(Uuid, Uuid), RoundItem> = HashMap::new();
    for item in stops.iter().flat_map(|stop| &stop.items) {
        totals
            .entry((item.product_id, item.variant_id))
            .and_modify(|total| total.quantity = total.quantity.saturating_add(item.quantity))
            .or_insert_with(|| item.clone());
    }
    let mut load: Vec<RoundItem> = totals.into_values().collect();
    load.sort_by(|a, b| {
        (&a.name, &a.variant_name, a.product_id, a.variant_id).cmp(&(
            &b.name,
            &b.variant_name,
            b.product_id,
            b.variant_id,
        ))
    });
    load
}

/// What `delivery` carries: its order's fulfilled items of its vendor.
fn stop_of(delivery: Delivery, order: Option<&Order>) -> RoundStop {
    let items = match order {
        Some(order) => order
            .items
            .iter()
            .filter(|item| item.fulfilled && item.vendor_id == Some(delivery.vendor_id))
            .map(|item| RoundItem {
                product_id: item.product_id,
                variant_id: item.variant_id,
                name: item.name.clone(),
                variant_name: item.variant_name.clone(),
                quantity: item.quantity,
            })
            .collect(),
        None => {
            tracing::warn!(delivery_id = %delivery.delivery_id, order_id = %delivery.order_id,
                "a delivery's order was not found; its stop lists no items");
            Vec::new()
        }
    };
    RoundStop {
        delivery_id: delivery.delivery_id,
        order_id: delivery.order_id,
        user_id: delivery.user_id,
        vendor_id: delivery.vendor_id,
        status: delivery.status,
        address: delivery.address,
        items,
    }
}

/// Applies `change` to `delivery`: the status move (refused with 409 `INVALID_TRANSITION`
/// where the table does not allow it), then the driver and proof. Answers the audit entry's
/// `changes` (`{field: {before, after}}`), or `None` when nothing changed.
pub fn apply(
    delivery: &mut Delivery,
    change: &DeliveryChange,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Option<Value>, DomainError> {
    let mut changes = Map::new();
    if change.status != delivery.status {
        let before = delivery.status;
        delivery.move_to(change.status, by, None, now)?;
        changes.insert(
            "status".into(),
            json!({"before": before, "after": change.status}),
        );
    }
    if let Some(driver_id) = change.driver_id
        && delivery.driver_id != Some(driver_id)
    {
        changes.insert(
            "driverId".into(),
            json!({"before": delivery.driver_id, "after": driver_id}),
        );
        delivery.driver_id = Some(driver_id);
    }
    if let Some(proof_url) = &change.proof_url
        && delivery.proof_url.as_ref() != Some(proof_url)
    {
        changes.insert(
            "proofUrl".into(),
            json!({"before": delivery.proof_url, "after": proof_url}),
        );
        delivery.proof_url = Some(proof_url.clone());
    }
    if changes.is_empty() {
        return Ok(None);
    }
    delivery.updated_at = now;
    Ok(Some(Value::Object(changes)))
}

#[derive(Clone)]
pub struct DeliveryService {
    deliveries: Arc<dyn DeliveryStore>,
    orders: Arc<dyn OrderReads>,
    actions: OrderActions,
}

impl DeliveryService {
    pub fn new(
        deliveries: Arc<dyn DeliveryStore>,
        orders: Arc<dyn OrderReads>,
        actions: OrderActions,
    ) -> Self {
        Self {
            deliveries,
            orders,
            actions,
        }
    }

    pub fn from_adapters(adapters: &Adapters) -> Self {
        let stores = &adapters.stores;
        let ports = CheckoutPorts::from_stores(stores, adapters.gateway.clone());
        Self::new(
            stores.deliveries.clone(),
            stores.orders.clone(),
            OrderActions::new(ports, adapters.checkout.clone()),
        )
    }

    /// One page of the round of `date` and `slot` (`vendor_id`: one vendor's; `None`: every
    /// vendor's), each stop with its items; each order is read once.
    pub async fn round(
        &self,
        vendor_id: Option<Uuid>,
        date: NaiveDate,
        slot: DeliverySlot,
        page: &PageRequest,
    ) -> Result<Page<RoundStop>, DomainError> {
        let deliveries = self.deliveries.round(vendor_id, date, slot, page).await?;
        let mut order_ids: Vec<Uuid> = deliveries.items.iter().map(|d| d.order_id).collect();
        order_ids.sort_unstable();
        order_ids.dedup();
        let orders: HashMap<Uuid, Order> = futures::stream::iter(order_ids)
            .map(|order_id| self.orders.get(order_id))
            .buffer_unordered(ORDER_READS_IN_FLIGHT)
            .try_filter_map(|order| async move { Ok(order.map(|o| (o.order_id, o))) })
            .try_collect()
            .await?;
        Ok(deliveries.map(|delivery| {
            let order = orders.get(&delivery.order_id);
            stop_of(delivery, order)
        }))
    }

    /// Moves a delivery `reach` covers (404 otherwise, as for an unknown id) as `change`
    /// says, saved with its audit entry, and with a DELIVERY_UPDATED event when its status
    /// moved; a change that changes nothing writes nothing. Then its order follows its
    /// deliveries (also when nothing was written, so a repeated request finishes what an
    /// interrupted one left).
    pub async fn update(
        &self,
        reach: Reach,
        delivery_id: Uuid,
        change: &DeliveryChange,
        actor: &AuditContext,
    ) -> Result<Delivery, DomainError> {
        let by = actor
            .user_id
            .map_or_else(|| "system".to_owned(), |id| id.to_string());
        let delivery = retry_on_conflict("delivery", || async {
            let mut delivery = self
                .deliveries
                .get(delivery_id)
                .await?
                .filter(|d| reach.covers(d.vendor_id))
                .ok_or(DomainError::NotFound("delivery"))?;
            let before = delivery.status;
            let Some(changes) = apply(&mut delivery, change, &by, Utc::now())? else {
                return Ok(delivery);
            };
            let entry = actor.entry(ACTION, ENTITY, delivery_id);
            let mut effects = Effects::audited(entry.with_changes(changes));
            if delivery.status != before {
                let news = DeliveryUpdated(DeliveryNews::of(&delivery));
                effects = effects.with_event(&news, &actor.correlation_id);
            }
            Ok(self.deliveries.update(delivery, &effects).await?)
        })
        .await?;
        self.actions
            .follow_deliveries(delivery.order_id, actor)
            .await?;
        Ok(delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryStatus::*;

    fn at(minute: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2030, 1, 1, 6, minute, 0).unwrap()
    }

    use milkrun_testkit::address;

    fn delivery(status: DeliveryStatus) -> Delivery {
        Delivery {
            delivery_id: Uuid::from_u128(1),
            order_id: Uuid::from_u128(2),
            user_id: Uuid::from_u128(3),
            vendor_id: Uuid::from_u128(4),
            delivery_date: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            delivery_slot: DeliverySlot::Morning,
            address: address("560001"),
            status,
            driver_id: None,
            proof_url: None,
            status_history: Vec::new(),
            created_at: at(0),
            updated_at: at(0),
            version: 3,
        }
    }

    fn change(status: DeliveryStatus) -> DeliveryChange {
        DeliveryChange {
            status,
            driver_id: None,
            proof_url: None,
        }
    }

    fn item(product: u128, quantity: u32) -> RoundItem {
        RoundItem {
            product_id: Uuid::from_u128(product),
            variant_id: Uuid::from_u128(product + 100),
            name: format!("product {product}"),
            variant_name: "1L".into(),
            quantity,
        }
    }

    fn stop(id: u128, pincode: &str, items: Vec<RoundItem>) -> RoundStop {
        RoundStop {
            delivery_id: Uuid::from_u128(id),
            order_id: Uuid::from_u128(id),
            user_id: Uuid::from_u128(id),
            vendor_id: Uuid::from_u128(4),
            status: Scheduled,
            address: address(pincode),
            items,
        }
    }

    #[test]
    fn a_page_is_grouped_by_consecutive_pincode_in_its_order_and_its_items_totalled() {
        let page = Page {
            items: vec![
                stop(1, "560001", vec![item(1, 2), item(2, 1)]),
                stop(2, "560034", vec![item(1, 3)]),
                stop(3, "560034", vec![item(2, 4)]),
            ],
            next_cursor: Some("next".into()),
        };
        let date = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        let sheet = RoundSheet::of(date, DeliverySlot::Morning, page);
        let groups: Vec<(&str, Vec<u128>)> = sheet
            .pincodes
            .iter()
            .map(|g| {
                let ids = g.deliveries.iter().map(|d| d.delivery_id.as_u128());
                (g.pincode.as_str(), ids.collect())
            })
            .collect();
        assert_eq!(groups, [("560001", vec![1]), ("560034", vec![2, 3])]);
        assert_eq!(sheet.load, [item(1, 5), item(2, 5)]);
        assert_eq!(sheet.next_cursor.as_deref(), Some("next"));
    }

    #[test]
    fn a_move_is_recorded_and_an_illegal_one_changes_nothing() {
        let mut d = delivery(Scheduled);
        let changes = apply(&mut d, &change(Assigned), "v", at(1)).unwrap();
        assert_eq!(
            changes,
            Some(json!({"status": {"before": "SCHEDULED", "after": "ASSIGNED"}}))
        );
        assert_eq!(
            (d.status, d.updated_at, d.status_history.len()),
            (Assigned, at(1), 1)
        );
        let before = d.clone();
        let refused = apply(&mut d, &change(Delivered), "v", at(2)).unwrap_err();
        assert_eq!(refused.code(), milkrun_domain::ErrorCode::InvalidTransition);
        assert_eq!(d, before);
    }

    #[test]
    fn the_same_status_with_nothing_else_is_no_change() {
        let mut d = delivery(InTransit);
        d.driver_id = Some(Uuid::from_u128(9));
        let before = d.clone();
        let same = DeliveryChange {
            driver_id: Some(Uuid::from_u128(9)),
            ..change(InTransit)
        };
        assert_eq!(apply(&mut d, &same, "v", at(1)).unwrap(), None);
        assert_eq!(d, before);
    }

    #[test]
    fn a_driver_and_a_proof_are_recorded_without_a_status_move() {
        let mut d = delivery(Delivered);
        let proof = DeliveryChange {
            driver_id: Some(Uuid::from_u128(9)),
            proof_url: Some("https://proof.example/1.jpg".into()),
            ..change(Delivered)
        };
        let changes = apply(&mut d, &proof, "v", at(5)).unwrap().unwrap();
        assert_eq!(changes["driverId"]["before"], Value::Null);
        assert_eq!(changes["proofUrl"]["after"], "https://proof.example/1.jpg");
        assert!(changes.get("status").is_none());
        assert!(d.status_history.is_empty(), "no status moved");
        assert_eq!(d.updated_at, at(5));
    }

    #[test]
    fn reach_covers_every_vendor_for_an_admin_and_its_own_for_a_vendor() {
        let (own, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert!(Reach::Admin.covers(other));
        assert!(Reach::Vendor(own).covers(own));
        assert!(!Reach::Vendor(own).covers(other));
    }
}
