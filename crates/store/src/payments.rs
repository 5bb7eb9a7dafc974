//! Payments over the item store: `PAYMENT#<paymentId>` holds the payment, saved by
//! compare-and-swap on its version, and created only if absent.
//!
//! A payment's id is the one [`Payment::id_for`] derives from its order (or a top-up's
//! charge), so its own put-if-absent is the order's claim: however close two payments of
//! one order race, one is written and the other is `AlreadyExists`, and `for_order` is one
//! strongly consistent GetItem. Payments written before the derived ids had random ids and
//! a second item, `PAYMENT_OF#<orderId>`, claiming the order and naming the payment, in the
//! same transaction; `for_order` still finds those through their claim, and none is written
//! any more: one item where there were two, 2 write units fewer a checkout.
//!
//! Not a sparse `ByOrder` index: an index cannot refuse a second payment (a GSI has no
//! uniqueness), and it is read eventually consistently.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_domain::payment::Payment;
use milkrun_domain::ports::{PaymentReads, PaymentWrites};
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::item::{Item, decode, encode, text};
use crate::ops::{Key, Write};
use crate::port::ItemStore;
use crate::table::PAYMENTS;
use crate::versioned::{commit_versioned, update_versioned, versioned_put};

/// A claim's attribute naming the order's payment (payments from before the derived ids).
const PAYMENT_ID: &str = "paymentId";

pub struct Payments {
    store: Arc<dyn ItemStore>,
}

fn payment_key(payment_id: Uuid) -> Key {
    Key::partition(format!("PAYMENT#{payment_id}"))
}

fn claim_key(order_id: Uuid) -> Key {
    Key::partition(format!("PAYMENT_OF#{order_id}"))
}

fn payment_item(payment: &Payment) -> Result<Item, StoreError> {
    let mut item = encode(payment)?;
    payment_key(payment.payment_id).add_to(&PAYMENTS, &mut item);
    Ok(item)
}

impl Payments {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    /// The insert of a new payment as a write, for a caller that commits it in its own
    /// transaction: refused (a failed condition) when the order has its payment already.
    /// Only under the order's derived id, which is what makes it the order's only one. A
    /// payment from before the derived ids (found through its claim) is not checked here:
    /// every writer asks `for_order` before it creates (ProcessPayment at its start, before
    /// the charge; the others just before) and updates the payment it finds, and only code
    /// from before this change writes payments under other ids (docs/deploying.md).
    pub fn create_writes(&self, payment: &Payment) -> Result<Vec<Write>, StoreError> {
        if payment.payment_id != Payment::id_for(payment.order_id) {
            return Err(StoreError::backend_message(
                "writing a payment",
                "a payment's id is the one derived from its order (Payment::id_for)",
            ));
        }
        Ok(vec![versioned_put(&PAYMENTS, payment_item(payment)?, None)])
    }

    async fn read(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        Ok(self.store.get(&PAYMENTS, key, true).await?)
    }

    /// The payment an order's claim names: a payment from before the derived ids.
    async fn claimed(&self, order_id: Uuid) -> Result<Option<Payment>, StoreError> {
        let Some(claim) = self.read(&claim_key(order_id)).await? else {
            return Ok(None);
        };
        let payment_id = text(&claim, PAYMENT_ID)
            .and_then(|id| Uuid::parse_str(id).ok())
            .ok_or_else(|| {
                StoreError::backend_message("reading a payment", "an order claim without a payment")
            })?;
        self.get(payment_id).await
    }
}

#[async_trait]
impl PaymentWrites for Payments {
    async fn create(&self, payment: &Payment, effects: &Effects) -> Result<(), StoreError> {
        let key = payment_key(payment.payment_id);
        let writes = self.create_writes(payment)?;
        commit_versioned(self.store.as_ref(), writes, effects, &key, None).await
    }

    async fn update(&self, mut payment: Payment, effects: &Effects) -> Result<Payment, StoreError> {
        let (key, item, read_at) = (
            payment_key(payment.payment_id),
            payment_item(&payment)?,
            payment.version,
        );
        let store = self.store.as_ref();
        payment.version = update_versioned(store, &PAYMENTS, &key, item, read_at, effects).await?;
        Ok(payment)
    }
}

#[async_trait]
impl PaymentReads for Payments {
    async fn get(&self, payment_id: Uuid) -> Result<Option<Payment>, StoreError> {
        self.read(&payment_key(payment_id))
            .await?
            .map(decode)
            .transpose()
    }

    async fn for_order(&self, order_id: Uuid) -> Result<Option<Payment>, StoreError> {
        match self.get(Payment::id_for(order_id)).await? {
            Some(payment) => Ok(Some(payment)),
            None => self.claimed(order_id).await,
        }
    }
}
