//! The cut-off (SPEC §6) at its boundary, on an injected clock: at 20:59:59 IST on D−1 a
//! change for D is taken; at 21:00:00 it is refused with CUTOFF_PASSED and the first open
//! date, and what can start later (a pause, an end) is taken from that date when asked. A
//! customer's one-off order for D follows the same rule; the run's own orders do not.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use milkrun_checkout::{AddressChoice, OrderPlacement, PlaceOrder, PlacedBy};
use milkrun_domain::audit::AuditContext;
use milkrun_domain::checkout::{OrderLine, platform_zone};
use milkrun_domain::clock::ManualClock;
use milkrun_domain::product::Product;
use milkrun_domain::subscription::{DayOfWeek, Frequency, SubscriptionStatus, Vacation};
use milkrun_domain::values::{AddressLabel, DeliverySlot, PaymentMethod};
use milkrun_domain::{DomainError, ErrorCode};
use milkrun_local::{Database, SqliteItemStore};
use milkrun_store::Stores;
use milkrun_subscription::SubscriptionService;
use milkrun_subscription::input::{Change, NewSubscription};
use milkrun_testkit::StartsSeen;
use milkrun_testkit::dairy::{DairySpec, customer, dairy};
use uuid::Uuid;

const PINCODE: &str = "560034";

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2030, 1, day).unwrap()
}

/// `h:m:s` IST on 2030-01-`day`.
fn ist(day: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    let local = date(day).and_hms_opt(h, m, s).unwrap();
    local
        .and_local_timezone(platform_zone())
        .unwrap()
        .with_timezone(&Utc)
}

struct World {
    stores: Stores,
    clock: Arc<ManualClock>,
    service: SubscriptionService,
    product: Product,
    user_id: Uuid,
    actor: AuditContext,
}

impl World {
    async fn new(cutoff: Option<&str>) -> Self {
        let db = Database::in_memory().unwrap();
        let stores = Stores::over(Arc::new(SqliteItemStore::new(db)));
        let spec = DairySpec {
            pincode: PINCODE,
            cutoff,
            daily_order_limit: 1_000,
            stock: 10_000,
            variants: &[("1L", 5_400)],
        };
        let (_, product) = dairy(&stores, &spec).await;
        let user_id = customer(&stores, "asha@example.com", PINCODE).await;
        let clock = Arc::new(ManualClock::at(ist(14, 12, 0, 0)));
        let service = SubscriptionService::over(&stores).with_clock(clock.clone());
        let actor = AuditContext::system("cutoff-test", "test");
        Self {
            stores,
            clock,
            service,
            product,
            user_id,
            actor,
        }
    }

    fn new_subscription(&self, start: NaiveDate) -> NewSubscription {
        NewSubscription {
            product_id: self.product.product_id,
            variant_id: self.product.variants[0].variant_id,
            quantity: 1,
            frequency: Frequency::Daily,
            days_of_week: Vec::<DayOfWeek>::new(),
            start_date: start,
            end_date: None,
            delivery_slot: DeliverySlot::Morning,
            address_label: AddressLabel::parse("home").unwrap(),
            payment_method: PaymentMethod::Cod,
        }
    }

    async fn subscribe(&self, start: NaiveDate) -> Result<Uuid, DomainError> {
        let made = self
            .service
            .create(&self.actor, self.user_id, self.new_subscription(start));
        Ok(made.await?.subscription_id)
    }

    fn one_off(&self, by: PlacedBy, day: u32) -> PlaceOrder {
        PlaceOrder {
            by,
            lines: Some(vec![OrderLine {
                product_id: self.product.product_id,
                variant_id: self.product.variants[0].variant_id,
                quantity: 1,
            }]),
            address: AddressChoice::Default,
            delivery_date: date(day),
            delivery_slot: DeliverySlot::Morning,
            payment_method: PaymentMethod::Cod,
            allow_partial: false,
            payment_token: None,
            order_id: None,
            subscription_id: None,
        }
    }
}

/// The refusal is CUTOFF_PASSED naming `next` as the first open date.
fn assert_cutoff<T: std::fmt::Debug>(outcome: Result<T, DomainError>, next: NaiveDate) {
    match outcome {
        Err(DomainError::RefusedWith { code, details, .. }) => {
            assert_eq!(code, ErrorCode::CutoffPassed);
            assert_eq!(details["nextDate"], next.to_string());
        }
        other => panic!("expected CUTOFF_PASSED, got {other:?}"),
    }
}

#[tokio::test]
async fn changes_for_a_date_close_at_its_cutoff_the_evening_before() {
    let world = World::new(None).await;
    let subscription = world.subscribe(date(15)).await.unwrap();
    world.clock.set(ist(14, 20, 59, 59));
    let day =
        world
            .service
            .change_day(&world.actor, world.user_id, subscription, date(15), Some(2));
    day.await.expect("one second before the cut-off");
    world
        .subscribe(date(15))
        .await
        .expect("a start one second before the cut-off");

    world.clock.set(ist(14, 21, 0, 0));
    assert_cutoff(world.subscribe(date(15)).await, date(16));
    let day =
        world
            .service
            .change_day(&world.actor, world.user_id, subscription, date(15), Some(0));
    assert_cutoff(day.await, date(16));
    let pause = Change {
        status: Some(SubscriptionStatus::Paused),
        ..Change::default()
    };
    let paused = world
        .service
        .change(&world.actor, world.user_id, subscription, pause.clone());
    assert_cutoff(paused.await, date(16));
    let evening = Change {
        delivery_slot: Some(DeliverySlot::Evening),
        ..Change::default()
    };
    assert_cutoff(
        world
            .service
            .change(&world.actor, world.user_id, subscription, evening)
            .await,
        date(16),
    );
    // A new quantity leaves the closed day alone: its day change already says 2.
    let more = Change {
        quantity: Some(3),
        ..Change::default()
    };
    world
        .service
        .change(&world.actor, world.user_id, subscription, more)
        .await
        .unwrap();
    let cancel = world
        .service
        .cancel(&world.actor, world.user_id, subscription, None);
    assert_cutoff(cancel.await, date(16));
    let away = Vacation {
        from: date(15),
        until: date(18),
    };
    assert_cutoff(
        world
            .service
            .set_vacation(&world.actor, world.user_id, away)
            .await,
        date(16),
    );
    world
        .subscribe(date(16))
        .await
        .expect("the next date is open");

    // What can start later is taken from the first open date, keeping the closed one.
    let later = Change {
        effective_from: Some(date(16)),
        ..pause
    };
    let paused = world
        .service
        .change(&world.actor, world.user_id, subscription, later)
        .await
        .unwrap();
    assert_eq!(
        (paused.status, paused.paused_from),
        (SubscriptionStatus::Paused, Some(date(16)))
    );
    let ended = world
        .service
        .cancel(&world.actor, world.user_id, subscription, Some(date(16)))
        .await
        .unwrap();
    assert_eq!(
        (ended.status, ended.end_date),
        (SubscriptionStatus::Paused, Some(date(15)))
    );
    let read = world
        .service
        .get(world.user_id, subscription)
        .await
        .unwrap();
    assert_eq!(
        read.day_changes[0].quantity, 2,
        "the closed day keeps what was set before"
    );
}

#[tokio::test]
async fn a_one_off_order_closes_at_the_cutoff_and_the_runs_orders_do_not() {
    let world = World::new(None).await;
    let starts = Arc::new(StartsSeen::default());
    let placement =
        OrderPlacement::new(world.stores.clone(), starts).with_clock(world.clock.clone());
    let customer = PlacedBy::Customer {
        user_id: world.user_id,
    };
    world.clock.set(ist(14, 20, 59, 59));
    placement
        .place(&world.actor, world.one_off(customer.clone(), 15), None)
        .await
        .unwrap();
    world.clock.set(ist(14, 21, 0, 0));
    let late = placement
        .place(&world.actor, world.one_off(customer.clone(), 15), None)
        .await;
    assert_cutoff(late, date(16));
    placement
        .place(&world.actor, world.one_off(customer, 16), None)
        .await
        .unwrap();
    let run = PlacedBy::Job {
        user_id: world.user_id,
        actor: "subscription-run".into(),
    };
    let by_the_run = placement
        .place(&world.actor, world.one_off(run, 15), None)
        .await;
    assert!(
        by_the_run.is_ok(),
        "the run places after the cut-off by design: {by_the_run:?}"
    );
}

#[tokio::test]
async fn a_vendor_with_an_earlier_cutoff_closes_its_pincode_earlier() {
    let world = World::new(Some("20:00")).await;
    world.clock.set(ist(14, 19, 59, 59));
    world
        .subscribe(date(15))
        .await
        .expect("before the vendor's 20:00");
    world.clock.set(ist(14, 20, 0, 0));
    assert_cutoff(world.subscribe(date(15)).await, date(16));
}

#[tokio::test]
async fn the_nightly_run_leaves_a_pincode_open_until_its_vendor_closes() {
    let world = World::new(Some("22:00")).await;
    world.subscribe(date(15)).await.unwrap();
    let starts = Arc::new(StartsSeen::default());
    let run = milkrun_subscription::SubscriptionRun::new(world.stores.clone(), starts.clone())
        .with_clock(world.clock.clone());
    world.clock.set(ist(14, 21, 30, 0));
    let early = run.run(date(15)).await.unwrap();
    assert_eq!(
        (early.ordered, early.deferred),
        (0, 1),
        "the customer may still change it"
    );
    world.clock.set(ist(14, 22, 0, 0));
    let late = run.run(date(15)).await.unwrap();
    assert_eq!(
        (late.ordered, late.deferred),
        (1, 0),
        "the late pass places it"
    );
    assert_eq!(starts.starts().len(), 1);
}
