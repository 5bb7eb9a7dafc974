//! Payments over the item store, two kinds of item: `PAYMENT#<paymentId>` holds the
//! payment, saved by compare-and-swap on its version, and `PAYMENT_OF#<orderId>` claims the
//! order's one payment, naming its paymentId. A create writes both in one transaction, each
//! conditional on not existing, so however close two payments of one order race, one is
//! written and the other is `AlreadyExists` with nothing written.
//!
//! The claim rather than a sparse `ByOrder` index: an index cannot refuse a second payment
//! (a GSI has no uniqueness), and it is read eventually consistently, where the claim is
//! read with the payment consistently (two strongly consistent GetItems). A payment never
//! changes order, so updates rewrite the payment alone and leave the claim as it is.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_domain::payment::Payment;
use milkrun_domain::ports::{PaymentReads, PaymentWrites};
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::item::{Item, decode, encode, s, text};
use crate::ops::{Condition, Key, Write};
use crate::port::ItemStore;
use crate::table::PAYMENTS;
use crate::versioned::{commit_versioned, update_versioned, versioned_put};

/// The claim's attribute naming the order's payment.
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

    /// The insert of a new payment and its order's claim as writes, for a caller that
    /// commits them in its own transaction. The payment's put comes first; either failed
    /// condition means the payment id or the order's payment was taken.
    pub fn create_writes(&self, payment: &Payment) -> Result<Vec<Write>, StoreError> {
        let mut claim = claim_key(payment.order_id).to_item(&PAYMENTS);
        claim.insert(PAYMENT_ID.into(), s(payment.payment_id.to_string()));
        Ok(vec![
            versioned_put(&PAYMENTS, payment_item(payment)?, None),
            Write::put(&PAYMENTS, claim, Some(Condition::NotExists)),
        ])
    }

    async fn read(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        Ok(self.store.get(&PAYMENTS, key, true).await?)
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
