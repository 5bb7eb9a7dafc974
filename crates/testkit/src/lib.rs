//! What the tests share, so that no suite keeps its own copy: fixtures ([`address`],
//! [`origin`], [`user`], [`product`], [`subscription`]), a checkout runner that records what it is asked to start
//! ([`StartsSeen`]), waits for what happens asynchronously ([`poll_until`], [`eventually`]),
//! and dates in the platform's time zone ([`kolkata_date`], [`utc_now`]).
//!
//! A dev-dependency only (and the bench's); it depends on nothing but the domain, the
//! entity stores ([`dairy`]) and the workspace's own dependencies with their workspace
//! features (scripts/same-features.sh).

pub mod dairy;

use std::fmt::Display;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use milkrun_domain::StoreError;
use milkrun_domain::checkout::platform_today;
use milkrun_domain::money::Money;
use milkrun_domain::ports::{CheckoutRunner, CheckoutStart};
use milkrun_domain::product::{Product, Variant};
use milkrun_domain::subscription::{Frequency, Subscription, SubscriptionStatus};
use milkrun_domain::user::{Address, ClientOrigin, NewUser, User};
use milkrun_domain::values::{
    AddressLabel, Category, DeliverySlot, Email, PasswordHash, PaymentMethod, PersonName, Pincode,
    Role,
};

// --- fixtures ------------------------------------------------------------------------------

/// A default home address in Bengaluru at `pincode` (six digits).
pub fn address(pincode: &str) -> Address {
    Address {
        label: AddressLabel::parse("home").unwrap(),
        line1: "12 MG Road".into(),
        line2: None,
        city: "Bengaluru".into(),
        state: "KA".into(),
        pincode: Pincode::parse(pincode).unwrap(),
        country: "IN".into(),
        is_default: true,
    }
}

/// The client a test user registers and logs in from (a documentation address, RFC 5737).
pub fn origin() -> ClientOrigin {
    ClientOrigin {
        ip: "203.0.113.7".into(),
        user_agent: "test".into(),
        region: None,
    }
}

/// The password hash of every user a test writes straight into a store (nobody logs in
/// with it).
pub fn password_hash() -> PasswordHash {
    PasswordHash::new("$argon2id$x".into())
}

/// Asha Rao, registered at `now` from [`origin`] with `email` and `role`: no phone, no
/// address (a customer's profile is not complete), not yet stored.
pub fn user(email: &str, role: Role, now: DateTime<Utc>) -> User {
    let new = NewUser {
        email: Email::parse(email).unwrap(),
        name: PersonName::parse("Asha Rao").unwrap(),
        phone: None,
        role,
    };
    User::register(new, password_hash(), &origin(), now)
}

/// An active product of `vendor_ids` with one variant per `(name, paise)`.
pub fn product(vendor_ids: Vec<uuid::Uuid>, variants: &[(&str, u64)]) -> Product {
    let now = Utc::now();
    Product {
        product_id: uuid::Uuid::now_v7(),
        name: "Toned milk".into(),
        category: Category::Milk,
        description: "Fresh toned milk".into(),
        variants: variants
            .iter()
            .map(|(name, paise)| Variant {
                variant_id: uuid::Uuid::now_v7(),
                name: (*name).into(),
                price: Money::inr(*paise),
                unit: "packet".into(),
            })
            .collect(),
        vendor_ids,
        image_url: None,
        is_active: true,
        created_at: now,
        updated_at: now,
        created_by: uuid::Uuid::now_v7(),
        updated_by: uuid::Uuid::now_v7(),
        version: 0,
    }
}

/// `user_id`'s ACTIVE subscription to one unit of `variant` of `product` a day from
/// `start`, to the `home` address, paid by wallet; not yet stored.
pub fn subscription(
    user_id: uuid::Uuid,
    product: &Product,
    variant: usize,
    start: NaiveDate,
) -> Subscription {
    let now = Utc::now();
    Subscription {
        subscription_id: uuid::Uuid::now_v7(),
        user_id,
        product_id: product.product_id,
        variant_id: product.variants[variant].variant_id,
        quantity: 1,
        frequency: Frequency::Daily,
        days_of_week: vec![],
        start_date: start,
        end_date: None,
        delivery_slot: DeliverySlot::Morning,
        address_label: AddressLabel::parse("home").unwrap(),
        payment_method: PaymentMethod::Wallet,
        status: SubscriptionStatus::Active,
        paused_from: None,
        paused_until: None,
        day_changes: vec![],
        last_generated_for: None,
        created_at: now,
        updated_at: now,
        version: 0,
    }
}

/// A checkout runner that starts nothing and keeps each start it was asked for.
#[derive(Debug, Default)]
pub struct StartsSeen(Mutex<Vec<CheckoutStart>>);

impl StartsSeen {
    /// Every start so far, oldest first.
    pub fn starts(&self) -> Vec<CheckoutStart> {
        self.0.lock().unwrap().clone()
    }

    /// The latest start, taken out of the record.
    pub fn pop(&self) -> Option<CheckoutStart> {
        self.0.lock().unwrap().pop()
    }
}

#[async_trait]
impl CheckoutRunner for StartsSeen {
    async fn start(&self, start: &CheckoutStart) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(start.clone());
        Ok(())
    }
}

// --- waits ---------------------------------------------------------------------------------

/// Calls `probe` every `every` until `done` holds of its answer or `timeout` has passed since
/// the first call, and returns the last answer either way (the caller asserts on it, so a
/// failure shows what was last seen).
pub async fn poll_until<T>(
    timeout: Duration,
    every: Duration,
    mut probe: impl AsyncFnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let started = Instant::now();
    loop {
        let answer = probe().await;
        if done(&answer) || started.elapsed() >= timeout {
            return answer;
        }
        tokio::time::sleep(every).await;
    }
}

/// The first `Some` that `probe` answers, called every `every` for up to `timeout`; panics
/// naming `what` when none came.
pub async fn eventually<T>(
    what: impl Display,
    timeout: Duration,
    every: Duration,
    probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    poll_until(timeout, every, probe, Option::is_some)
        .await
        .unwrap_or_else(|| panic!("{what}: not within {timeout:?}"))
}

// --- dates ---------------------------------------------------------------------------------

/// The date `days` after today (before, when negative) in the platform's time zone
/// (Asia/Kolkata), as `YYYY-MM-DD`: a delivery date as a client sends it.
pub fn kolkata_date(days: i64) -> String {
    let today: NaiveDate = platform_today(Utc::now());
    (today + TimeDelta::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// Now, as RFC 3339 in UTC to the second (`2025-03-10T18:30:00Z`).
pub fn utc_now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Sends `request` to `app` in process and answers its status and its body as JSON (`Null`
/// when the body is empty or not JSON): how router tests and the benches call the API.
pub async fn json_answer(
    app: &axum::Router,
    request: http::Request<axum::body::Body>,
) -> (http::StatusCode, serde_json::Value) {
    use tower::ServiceExt as _;
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_a_default_home_at_its_pincode() {
        let home = address("560034");
        assert_eq!(home.pincode.as_str(), "560034");
        assert!(home.is_default);
    }

    #[test]
    fn dates_are_written_as_a_client_sends_them() {
        let tomorrow = kolkata_date(1);
        assert_eq!(tomorrow.len(), 10);
        let parsed = |date: &str| NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        assert_eq!(
            parsed(&tomorrow) - parsed(&kolkata_date(-1)),
            TimeDelta::days(2)
        );
        assert!(DateTime::parse_from_rfc3339(&utc_now()).is_ok());
        assert!(utc_now().ends_with('Z'));
    }

    #[tokio::test]
    async fn a_wait_answers_the_first_value_that_is_ready() {
        let mut calls = 0;
        let third = eventually(
            "the third call",
            Duration::from_secs(5),
            Duration::ZERO,
            async || {
                calls += 1;
                (calls == 3).then_some(calls)
            },
        )
        .await;
        assert_eq!(third, 3);
        let last = poll_until(Duration::ZERO, Duration::ZERO, async || 7, |_| false).await;
        assert_eq!(last, 7, "the last answer when the time is up");
    }
}
