//! Deliveries: one per vendor of an order, for its date and slot, moved along its own status
//! table by the vendor's round; the order's status follows from its deliveries'.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::DomainError;
use crate::lifecycle::{self, Lifecycle, StatusChange, Timeline, Tracked};
use crate::order::{Order, OrderStatus};
use crate::user::Address;
use crate::values::{DeliverySlot, InvalidValue, closed_set};

closed_set!(
    /// Where one delivery is on the round.
    DeliveryStatus {
        Scheduled => "SCHEDULED", Assigned => "ASSIGNED", PickedUp => "PICKED_UP",
        InTransit => "IN_TRANSIT", Delivered => "DELIVERED", Failed => "FAILED",
    }
    "must be one of SCHEDULED, ASSIGNED, PICKED_UP, IN_TRANSIT, DELIVERED, FAILED"
);

impl Lifecycle for DeliveryStatus {
    const ENTITY: &'static str = "A delivery";
    const STATUSES: &'static [Self] = &Self::ALL;

    /// The round moves forward one step at a time: SCHEDULED → ASSIGNED (a driver) →
    /// PICKED_UP → IN_TRANSIT → DELIVERED. It may fail from any step before the door
    /// (no driver, the vendor short, a breakdown): FAILED is what cancels and refunds the
    /// order, so a vendor stuck at any step must be able to say so. DELIVERED and FAILED
    /// are final.
    fn can_become(self, to: DeliveryStatus) -> bool {
        use DeliveryStatus::*;
        matches!(
            (self, to),
            (Scheduled, Assigned | Failed)
                | (Assigned, PickedUp | Failed)
                | (PickedUp, InTransit | Failed)
                | (InTransit, Delivered | Failed)
        )
    }
}

impl DeliveryStatus {
    /// Whether the delivery table allows `self` → `to` ([`Lifecycle::can_become`]).
    pub fn can_become(self, to: DeliveryStatus) -> bool {
        Lifecycle::can_become(self, to)
    }

    /// DELIVERED and FAILED: no move leads out of them ([`Lifecycle::is_final`]).
    pub fn is_final(self) -> bool {
        Lifecycle::is_final(self)
    }
}

/// `Ok` when the delivery table allows `from` → `to`, else a 409 `INVALID_TRANSITION`.
pub fn transition(from: DeliveryStatus, to: DeliveryStatus) -> Result<(), DomainError> {
    lifecycle::transition(from, to)
}

/// One entry of a delivery's timeline.
pub type DeliveryStatusChange = StatusChange<DeliveryStatus>;

crate::status_change_schema!(
    DeliveryStatus,
    "DeliveryStatusChange",
    "A userId, or the name of the step that moved it."
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub delivery_id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub vendor_id: Uuid,
    pub delivery_date: NaiveDate,
    pub delivery_slot: DeliverySlot,
    pub address: Address,
    pub status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_url: Option<String>,
    /// Oldest first; the first entry is SCHEDULED.
    pub status_history: Vec<DeliveryStatusChange>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    #[schema(ignore)]
    pub version: u64,
}

impl Delivery {
    /// The id of the one delivery of `order_id` by `vendor_id`: derived, not drawn, so that
    /// a retried ScheduleDelivery step names the same deliveries and writes none twice.
    pub fn id_for(order_id: Uuid, vendor_id: Uuid) -> Uuid {
        Uuid::new_v5(&order_id, vendor_id.as_bytes())
    }

    /// One SCHEDULED delivery per vendor of the order's fulfilled items (SPEC §5 step 8),
    /// in vendor id order.
    pub fn schedule_for(order: &Order, by: &str, now: DateTime<Utc>) -> Vec<Delivery> {
        order
            .vendor_ids()
            .into_iter()
            .map(|vendor_id| Delivery {
                delivery_id: Self::id_for(order.order_id, vendor_id),
                order_id: order.order_id,
                user_id: order.user_id,
                vendor_id,
                delivery_date: order.delivery_date,
                delivery_slot: order.delivery_slot,
                address: order.delivery_address.clone(),
                status: DeliveryStatus::Scheduled,
                driver_id: None,
                proof_url: None,
                status_history: vec![StatusChange::new(DeliveryStatus::Scheduled, by, now)],
                created_at: now,
                updated_at: now,
                version: 0,
            })
            .collect()
    }

    /// Moves the delivery along its table and records it; a refused move changes nothing.
    pub fn move_to(
        &mut self,
        to: DeliveryStatus,
        by: impl Into<String>,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        Tracked::move_to(self, to, by, reason, now)
    }
}

impl Tracked for Delivery {
    type Status = DeliveryStatus;

    fn timeline(&mut self) -> Timeline<'_, DeliveryStatus> {
        Timeline {
            status: &mut self.status,
            history: &mut self.status_history,
            updated_at: &mut self.updated_at,
        }
    }
}

/// What an order's deliveries, taken together, say the order should be, or `None` when they
/// say nothing new (none has left yet, or there are none):
/// - any FAILED → CANCELLED (SPEC §3: "CANCELLED (a delivery FAILED)"); it wins over the
///   others, because the order cannot end DELIVERED any more;
/// - all DELIVERED → DELIVERED;
/// - any IN_TRANSIT, or some DELIVERED (which passed IN_TRANSIT) → OUT_FOR_DELIVERY.
pub fn order_status_for(deliveries: &[DeliveryStatus]) -> Option<OrderStatus> {
    let any = |status: DeliveryStatus| deliveries.contains(&status);
    if any(DeliveryStatus::Failed) {
        Some(OrderStatus::Cancelled)
    } else if !deliveries.is_empty() && deliveries.iter().all(|s| *s == DeliveryStatus::Delivered) {
        Some(OrderStatus::Delivered)
    } else if any(DeliveryStatus::InTransit) || any(DeliveryStatus::Delivered) {
        Some(OrderStatus::OutForDelivery)
    } else {
        None
    }
}

/// The legal order moves, in turn, that take an order at `current` to what its deliveries
/// say ([`order_status_for`]). Delivery updates can arrive faster than the order follows
/// them (a PREPARING order whose only delivery is already DELIVERED passes through
/// OUT_FOR_DELIVERY); a target already reached, or no longer reachable (the order was
/// cancelled meanwhile), gives no moves.
pub fn order_moves(current: OrderStatus, deliveries: &[DeliveryStatus]) -> Vec<OrderStatus> {
    let Some(target) = order_status_for(deliveries) else {
        return Vec::new();
    };
    if current == target {
        Vec::new()
    } else if current.can_become(target) {
        vec![target]
    } else if current.can_become(OrderStatus::OutForDelivery)
        && OrderStatus::OutForDelivery.can_become(target)
    {
        vec![OrderStatus::OutForDelivery, target]
    } else {
        Vec::new()
    }
}

/// Why an order was cancelled when one of its deliveries FAILED.
pub const DELIVERY_FAILED: &str = "DELIVERY_FAILED";

/// Moves `order` one step towards what its deliveries say, worked out from the status the
/// order has now, so that it can run inside the order's conditional write: a concurrent
/// follower of another delivery may have moved the order since `deliveries` were read, and
/// moves worked out from an older read (PREPARING → OUT_FOR_DELIVERY → DELIVERED, met by an
/// order DELIVERED already) would be refused. Whether it moved. A cancel (a delivery
/// FAILED) is the move alone: its stock and money are the caller's to settle after it.
pub fn follow_one_step(
    order: &mut Order,
    deliveries: &[DeliveryStatus],
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let Some(&to) = order_moves(order.status, deliveries).first() else {
        return Ok(false);
    };
    let reason = (to == OrderStatus::Cancelled).then(|| DELIVERY_FAILED.to_owned());
    order.move_to(to, by, reason, now)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::order::tests::{at, item, order};
    use DeliveryStatus::*;

    /// The delivery table written out again; anything absent is refused.
    const EXPECTED: [(DeliveryStatus, &[DeliveryStatus]); 6] = [
        (Scheduled, &[Assigned, Failed]),
        (Assigned, &[PickedUp, Failed]),
        (PickedUp, &[InTransit, Failed]),
        (InTransit, &[Delivered, Failed]),
        (Delivered, &[]),
        (Failed, &[]),
    ];

    #[test]
    fn every_status_round_trips_through_its_name_and_json() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Ok(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
        assert_eq!(PickedUp.as_str(), "PICKED_UP");
        assert_eq!(InTransit.as_str(), "IN_TRANSIT");
        assert!(DeliveryStatus::parse("LOST").is_err());
    }

    #[test]
    fn the_delivery_table_is_exactly_as_written_for_every_pair() {
        for status in DeliveryStatus::ALL {
            assert_eq!(
                EXPECTED.iter().filter(|(from, _)| *from == status).count(),
                1,
                "{status} needs one row"
            );
        }
        let mut checked = 0;
        for (from, allowed) in EXPECTED {
            for to in DeliveryStatus::ALL {
                let expected = allowed.contains(&to);
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                assert_eq!(transition(from, to).is_ok(), expected, "{from} -> {to}");
                checked += 1;
            }
            assert_eq!(from.is_final(), allowed.is_empty(), "{from}");
        }
        assert_eq!(checked, 36);
        assert_eq!(
            transition(Scheduled, Delivered).unwrap_err().code(),
            ErrorCode::InvalidTransition
        );
    }

    #[test]
    fn deliveries_are_scheduled_one_per_vendor_with_stable_ids() {
        let (v1, v2) = (Uuid::from_u128(900), Uuid::from_u128(800));
        let mut a = item(1, 100, 1);
        a.vendor_id = Some(v1);
        let mut b = item(2, 100, 1);
        b.vendor_id = Some(v2);
        let mut c = item(3, 100, 1);
        c.vendor_id = Some(v1);
        let order = order(vec![a, b, c]);
        let deliveries = Delivery::schedule_for(&order, "checkout", at(7, 0));
        assert_eq!(deliveries.len(), 2);
        assert_eq!(deliveries[0].vendor_id, v2);
        assert!(deliveries.iter().all(|d| d.status == Scheduled
            && d.delivery_date == order.delivery_date
            && d.status_history.len() == 1));
        let again = Delivery::schedule_for(&order, "checkout", at(7, 5));
        assert_eq!(
            deliveries[0].delivery_id, again[0].delivery_id,
            "a retried step names the same deliveries"
        );
        assert_ne!(deliveries[0].delivery_id, deliveries[1].delivery_id);
    }

    #[test]
    fn moving_a_delivery_records_it_and_a_refused_move_changes_nothing() {
        let mut a = item(1, 100, 1);
        a.vendor_id = Some(Uuid::from_u128(900));
        let mut delivery = Delivery::schedule_for(&order(vec![a]), "checkout", at(7, 0))
            .pop()
            .unwrap();
        delivery
            .move_to(Assigned, "vendor", None, at(7, 1))
            .unwrap();
        let before = delivery.clone();
        assert!(
            delivery
                .move_to(Delivered, "vendor", None, at(7, 2))
                .is_err()
        );
        assert_eq!(delivery, before);
        delivery
            .move_to(PickedUp, "vendor", None, at(7, 3))
            .unwrap();
        delivery
            .move_to(Failed, "vendor", Some("breakdown".into()), at(7, 4))
            .unwrap();
        assert_eq!(delivery.status_history.len(), 4);
        assert_eq!(delivery.updated_at, at(7, 4));
    }

    #[test]
    fn the_order_follows_its_deliveries() {
        let cases: [(&[DeliveryStatus], Option<OrderStatus>); 10] = [
            (&[], None),
            (&[Scheduled, Assigned], None),
            (&[PickedUp], None),
            (&[InTransit], Some(OrderStatus::OutForDelivery)),
            (&[InTransit, Scheduled], Some(OrderStatus::OutForDelivery)),
            (&[Delivered, Assigned], Some(OrderStatus::OutForDelivery)),
            (&[Delivered], Some(OrderStatus::Delivered)),
            (&[Delivered, Delivered], Some(OrderStatus::Delivered)),
            (&[Failed], Some(OrderStatus::Cancelled)),
            (
                &[Delivered, InTransit, Failed],
                Some(OrderStatus::Cancelled),
            ),
        ];
        for (deliveries, expected) in cases {
            assert_eq!(order_status_for(deliveries), expected, "{deliveries:?}");
        }
    }

    #[test]
    fn a_follower_steps_from_the_order_as_it_is_now_not_as_it_was_read() {
        use OrderStatus as O;
        let both_done = [Delivered, Delivered];
        let mut preparing = order(vec![item(1, 100, 1)]);
        preparing.status = O::Preparing;
        let mut ahead = preparing.clone();
        // Another vendor's follower took the order all the way meanwhile.
        for to in [O::OutForDelivery, O::Delivered] {
            ahead.move_to(to, "other", None, at(7, 0)).unwrap();
        }
        let stale = order_moves(preparing.status, &both_done);
        assert_eq!(stale, [O::OutForDelivery, O::Delivered]);
        let refused = ahead.clone().move_to(stale[0], "late", None, at(7, 1));
        assert!(
            refused.is_err(),
            "the stale read's first move, made on the order as it is"
        );
        assert!(!follow_one_step(&mut ahead, &both_done, "late", at(7, 1)).unwrap());
        assert_eq!(ahead.status, O::Delivered);

        let mut steps = 0;
        while follow_one_step(&mut preparing, &both_done, "v", at(7, 2)).unwrap() {
            steps += 1;
        }
        assert_eq!((steps, preparing.status), (2, O::Delivered));
        let mut failed = order(vec![item(1, 100, 1)]);
        failed.status = O::Preparing;
        let one_failed = [Failed, Delivered];
        assert!(follow_one_step(&mut failed, &one_failed, "v", at(7, 3)).unwrap());
        let cancelled = failed.status_history.last().unwrap();
        assert_eq!(
            (cancelled.status, cancelled.reason.as_deref()),
            (O::Cancelled, Some(DELIVERY_FAILED))
        );
        failed
            .move_to(O::Refunded, "other", None, at(7, 4))
            .unwrap();
        assert!(
            !follow_one_step(&mut failed, &one_failed, "late", at(7, 5)).unwrap(),
            "cancelled and refunded by another follower meanwhile: nothing to do"
        );
    }

    #[test]
    fn the_order_moves_are_legal_steps_to_what_the_deliveries_say() {
        use OrderStatus as O;
        assert_eq!(order_moves(O::Preparing, &[InTransit]), [O::OutForDelivery]);
        assert_eq!(
            order_moves(O::Preparing, &[Delivered]),
            [O::OutForDelivery, O::Delivered],
            "a missed IN_TRANSIT is stepped through"
        );
        assert_eq!(order_moves(O::OutForDelivery, &[Delivered]), [O::Delivered]);
        assert_eq!(order_moves(O::OutForDelivery, &[InTransit]), []);
        assert_eq!(order_moves(O::Preparing, &[Failed]), [O::Cancelled]);
        assert_eq!(
            order_moves(O::Cancelled, &[Failed]),
            [],
            "already cancelled"
        );
        assert_eq!(order_moves(O::Cancelled, &[InTransit]), [], "not reachable");
        assert_eq!(order_moves(O::Preparing, &[Scheduled]), []);
        for current in O::ALL {
            let mut status = current;
            for step in order_moves(current, &[Delivered]) {
                assert!(status.can_become(step), "{status} -> {step}");
                status = step;
            }
        }
    }
}
