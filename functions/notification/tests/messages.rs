//! The notification consumer as the local host runs it (the in-process bus, the SQLite
//! store, mail as files): each order, payment, delivery and fraud event makes its messages
//! for the right recipients, once however often it is delivered.

use std::path::Path;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use milkrun_domain::Effects;
use milkrun_domain::delivery::DeliveryStatus;
use milkrun_domain::events::*;
use milkrun_domain::money::Money;
use milkrun_domain::notification::{Channel, Notification};
use milkrun_domain::order::OrderStatus;
use milkrun_domain::page::PageRequest;
use milkrun_domain::payment::PaymentStatus;
use milkrun_domain::ports::{
    DeadLetters, EventPublisher, NotificationStore, UserRegistry, VendorWrites,
};
use milkrun_domain::user::{ClientOrigin, NewUser, User};
use milkrun_domain::values::{DeliverySlot, Email, PasswordHash, PaymentMethod, PersonName, Role};
use milkrun_domain::vendor::VendorInput;
use milkrun_local::{Database, LocalHost, RetryPolicy};
use milkrun_notification::CONSUMER;
use milkrun_notification::orders::{self, ADMIN};
use milkrun_platform::Settings;
use serde_json::json;
use uuid::Uuid;

struct World {
    host: LocalHost,
    data: tempfile::TempDir,
    customer: User,
    vendor_id: Uuid,
    vendor_email: String,
}

fn origin() -> ClientOrigin {
    ClientOrigin {
        ip: "127.0.0.1".into(),
        user_agent: "test".into(),
        region: None,
    }
}

/// The consumer subscribed on a fresh local host, one customer and one vendor.
async fn world() -> World {
    let data = tempfile::tempdir().unwrap();
    let retry = RetryPolicy {
        attempts: 1,
        first_pause: Duration::from_millis(1),
    };
    let db = Database::in_memory().unwrap();
    let host = LocalHost::over(db, data.path(), Settings::default(), retry)
        .await
        .unwrap();
    host.subscribe(&[&CONSUMER]);
    let stores = &host.adapters.stores;
    let new = NewUser {
        email: Email::parse("asha@milkrun.test").unwrap(),
        name: PersonName::parse("Asha").unwrap(),
        phone: None,
        role: Role::Customer,
    };
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    let customer = User::register(new, hash, &origin(), Utc::now());
    stores
        .users
        .create(&customer, &Effects::none())
        .await
        .unwrap();
    let vendor: VendorInput = serde_json::from_value(json!({"name": "Nandi Dairy",
        "email": "orders@nandi.test", "phone": "+919845000101", "address": "Koramangala",
        "serviceAreas": ["560034"]}))
    .unwrap();
    let vendor = vendor.create(Utc::now()).unwrap();
    stores
        .vendors
        .create(&vendor, &Effects::none())
        .await
        .unwrap();
    World {
        host,
        data,
        customer,
        vendor_id: vendor.vendor_id,
        vendor_email: "orders@nandi.test".into(),
    }
}

impl World {
    fn order(&self, status: OrderStatus, reason: Option<&str>) -> OrderNews {
        OrderNews {
            order_id: Uuid::now_v7(),
            user_id: self.customer.user_id,
            status,
            total: Money::inr(12_350),
            delivery_date: NaiveDate::from_ymd_opt(2030, 1, 31).unwrap(),
            delivery_slot: DeliverySlot::Morning,
            payment_method: PaymentMethod::Upi,
            vendor_ids: vec![self.vendor_id],
            reason: reason.map(str::to_owned),
            subscription_id: None,
            items: vec!["2 × Toned milk 1L".into()],
        }
    }

    /// A top-up of ₹500.00 into an empty wallet.
    fn topup(&self) -> WalletNews {
        let entry = milkrun_domain::wallet::LedgerEntry {
            entry_id: Uuid::now_v7(),
            kind: milkrun_domain::wallet::EntryKind::Topup,
            amount: Money::inr(50_000),
            balance_after: Money::inr(50_000),
            order_id: None,
            payment_id: Some(Uuid::now_v7()),
            reason: "Top-up".into(),
            at: Utc::now(),
        };
        WalletNews {
            user_id: self.customer.user_id,
            entry,
        }
    }

    fn payment(&self, status: PaymentStatus) -> PaymentNews {
        PaymentNews {
            payment_id: Uuid::now_v7(),
            order_id: Uuid::now_v7(),
            user_id: self.customer.user_id,
            amount: Money::inr(12_350),
            method: PaymentMethod::Card,
            status,
            failure_reason: Some("card declined".into()),
            refunded: None,
        }
    }

    fn delivery(&self, status: DeliveryStatus) -> DeliveryNews {
        DeliveryNews {
            delivery_id: Uuid::now_v7(),
            order_id: Uuid::now_v7(),
            user_id: self.customer.user_id,
            vendor_id: self.vendor_id,
            status,
            delivery_date: NaiveDate::from_ymd_opt(2030, 1, 31).unwrap(),
            delivery_slot: DeliverySlot::Evening,
        }
    }

    async fn publish(&self, event: &EventEnvelope) {
        self.host.bus.publish(event).await.unwrap();
        let letters = self.host.adapters.stores.dead_letters.list(10).await;
        assert_eq!(letters.unwrap(), vec![], "{:?} failed", event.event_type);
    }

    /// The notifications kept under `owner`, newest first.
    async fn kept(&self, owner: Uuid) -> Vec<Notification> {
        let notifications = &self.host.adapters.stores.notifications;
        let page = PageRequest::first(100);
        notifications.for_user(owner, &page).await.unwrap().items
    }

    /// The messages `event` made: (owner, kind) for each. A customer's message is kept by
    /// email and in the app (the default channels), each under its own derived id; it is
    /// listed here once.
    async fn made_by(&self, event: &EventEnvelope) -> Vec<(Uuid, String)> {
        let mut made = Vec::new();
        for owner in [self.customer.user_id, self.vendor_id, ADMIN] {
            let kept = self.kept(owner).await;
            for n in kept.iter().filter(|n| n.event_id == event.event_id) {
                let id = match owner {
                    ADMIN => Notification::id_for(n.event_id, &n.kind),
                    _ => Notification::id_on(n.event_id, &n.kind, n.channel),
                };
                assert_eq!(n.notification_id, id);
                if owner == self.customer.user_id {
                    let channels = |c| {
                        kept.iter()
                            .filter(|k| {
                                k.kind == n.kind && k.event_id == n.event_id && k.channel == c
                            })
                            .count()
                    };
                    assert_eq!(
                        (
                            channels(Channel::Email),
                            channels(Channel::InApp),
                            channels(Channel::Sms)
                        ),
                        // Account mail (the welcome) goes by email only.
                        (1, usize::from(n.kind != "WELCOME"), 0),
                        "{n:?}"
                    );
                }
                if n.channel != Channel::InApp || owner == ADMIN {
                    made.push((n.user_id, n.kind.clone()));
                }
            }
        }
        made
    }
}

/// Each mail in the outbox: its `To:` address and its text.
fn mails(data: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(data.join("outbox")) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .map(|text| {
            let to = text.lines().next().unwrap().trim_start_matches("To: ");
            (to.to_owned(), text.clone())
        })
        .collect()
}

#[tokio::test]
async fn each_wanted_event_makes_its_messages_for_the_right_recipients() {
    let w = world().await;
    let customer = w.customer.user_id;
    let cases: Vec<(EventEnvelope, Vec<(Uuid, &str)>)> = vec![
        (
            EventEnvelope::new(&OrderConfirmed(w.order(OrderStatus::Confirmed, None)), "c"),
            vec![(customer, orders::ORDER_CONFIRMED)],
        ),
        (
            EventEnvelope::new(&OrderOnHold(w.order(OrderStatus::OnHold, None)), "c"),
            vec![(customer, orders::ORDER_ON_HOLD)],
        ),
        (
            EventEnvelope::new(
                &OrderFailed(w.order(OrderStatus::Failed, Some("OUT_OF_STOCK"))),
                "c",
            ),
            vec![(customer, orders::ORDER_FAILED)],
        ),
        (
            EventEnvelope::new(
                &OrderCancelled(w.order(OrderStatus::Cancelled, Some("REJECTED"))),
                "c",
            ),
            vec![(customer, orders::ORDER_CANCELLED)],
        ),
        (
            EventEnvelope::new(&PaymentFailed(w.payment(PaymentStatus::Failed)), "c"),
            vec![(customer, orders::PAYMENT_FAILED)],
        ),
        (
            EventEnvelope::new(&PaymentRefunded(w.payment(PaymentStatus::Refunded)), "c"),
            vec![(customer, orders::PAYMENT_REFUNDED)],
        ),
        (
            EventEnvelope::new(
                &DeliveryScheduled(w.delivery(DeliveryStatus::Scheduled)),
                "c",
            ),
            vec![
                (customer, orders::DELIVERY_SCHEDULED),
                (w.vendor_id, orders::VENDOR_ASSIGNMENT),
            ],
        ),
        (
            EventEnvelope::new(&DeliveryUpdated(w.delivery(DeliveryStatus::InTransit)), "c"),
            vec![(customer, orders::DELIVERY_UPDATED)],
        ),
        (
            EventEnvelope::new(
                &FraudSuspected {
                    order_id: Uuid::now_v7(),
                    user_id: customer,
                    total: Money::inr(5_000_000),
                    reasons: vec!["AMOUNT_ABOVE_LIMIT".into()],
                },
                "c",
            ),
            vec![(ADMIN, orders::FRAUD_SUSPECTED)],
        ),
        (
            EventEnvelope::new(
                &OrderNeedsAttention(w.order(OrderStatus::Cancelled, Some("REFUND_FAILED"))),
                "c",
            ),
            vec![(ADMIN, orders::ORDER_NEEDS_ATTENTION)],
        ),
        (
            EventEnvelope::new(
                &OrderConfirmed(OrderNews {
                    subscription_id: Some(Uuid::now_v7()),
                    ..w.order(OrderStatus::Confirmed, None)
                }),
                "c",
            ),
            vec![(customer, orders::SUBSCRIPTION_CONFIRMED)],
        ),
        (
            EventEnvelope::new(
                &SubscriptionDaySkipped {
                    subscription_id: Uuid::now_v7(),
                    user_id: customer,
                    date: NaiveDate::from_ymd_opt(2030, 1, 31).unwrap(),
                    reason: "INSUFFICIENT_BALANCE".into(),
                    message: "The wallet does not cover this delivery; top up to receive it."
                        .into(),
                },
                "c",
            ),
            vec![(customer, orders::SUBSCRIPTION_DAY_SKIPPED)],
        ),
        (
            EventEnvelope::new(
                &LowBalance {
                    user_id: customer,
                    balance: Money::inr(4_000),
                    date: NaiveDate::from_ymd_opt(2030, 1, 31).unwrap(),
                },
                "c",
            ),
            vec![(customer, orders::LOW_BALANCE)],
        ),
        (
            EventEnvelope::new(&WalletToppedUp(w.topup()), "c"),
            vec![(customer, orders::WALLET_TOPPED_UP)],
        ),
    ];
    let mut mailed = 0;
    for (event, expected) in &cases {
        assert!(
            consumer_takes(&w, event.event_type),
            "{:?}",
            event.event_type
        );
        w.publish(event).await;
        let expected: Vec<(Uuid, String)> = expected
            .iter()
            .map(|(o, k)| (*o, (*k).to_owned()))
            .collect();
        assert_eq!(w.made_by(event).await, expected, "{:?}", event.event_type);
        mailed += expected.iter().filter(|(owner, _)| *owner != ADMIN).count();
        assert_eq!(mails(w.data.path()).len(), mailed, "{:?}", event.event_type);
    }
    let mails = mails(w.data.path());
    let to = |address: &str| mails.iter().filter(|(to, _)| to == address).count();
    assert_eq!(to(w.customer.email.as_str()), 12);
    let confirmation = "2 × Toned milk 1L, ₹123.50 (paid)";
    for said in [
        "top up to receive it",
        "₹40.00",
        "now holds ₹500.00",
        confirmation,
    ] {
        assert!(mails.iter().any(|(_, text)| text.contains(said)), "{said}");
    }
    assert_eq!(to(&w.vendor_email), 1, "the vendor's assignment");
    assert!(mails.iter().any(|(_, text)| text.contains("₹123.50")));
    let alerts = w.kept(ADMIN).await;
    assert!(
        alerts.iter().all(|alert| alert.channel == Channel::InApp),
        "kept for the managers, not mailed"
    );
    let said = |what: &str| alerts.iter().any(|alert| alert.body.contains(what));
    assert!(said("AMOUNT_ABOVE_LIMIT"));
    assert!(said("money still taken"), "a failed refund says what to do");
}

/// Whether the consumer, as wired, is fed events of this type and takes them.
fn consumer_takes(w: &World, event_type: EventType) -> bool {
    let handler = (CONSUMER.handler)(&w.host.adapters);
    CONSUMER.topics.contains(&event_type.topic()) && handler.wants(event_type)
}

#[tokio::test]
async fn a_redelivered_event_is_kept_once() {
    let w = world().await;
    let event = EventEnvelope::new(
        &DeliveryScheduled(w.delivery(DeliveryStatus::Scheduled)),
        "c",
    );
    w.publish(&event).await;
    w.publish(&event).await;
    let handler = (CONSUMER.handler)(&w.host.adapters);
    assert!(
        handler.deduplicates_itself(),
        "no processed-event records: the notifications' derived ids are the dedup"
    );
    assert_eq!(
        mails(w.data.path()).len(),
        2,
        "a redelivery after the first was handled sends nothing"
    );
    // Handed the event once more, past anything the host checks: still kept once.
    handler.handle(&event).await.unwrap();
    assert_eq!(
        w.made_by(&event).await.len(),
        2,
        "one for the customer, one for the vendor"
    );
    assert_eq!(mails(w.data.path()).len(), 2, "each mailed once");
}

#[tokio::test]
async fn events_without_a_message_are_ignored() {
    let w = world().await;
    let handler = (CONSUMER.handler)(&w.host.adapters);
    let placed = EventEnvelope::new(&OrderPlaced(w.order(OrderStatus::Pending, None)), "c");
    let paid = EventEnvelope::new(&PaymentSucceeded(w.payment(PaymentStatus::Succeeded)), "c");
    let login = LoginSeen::new(w.customer.user_id, &origin());
    let suspicious = EventEnvelope::new(&SuspiciousLogin(login), "c").on(Topic::AdminAlerts);
    for event in [&placed, &paid, &suspicious] {
        assert!(!handler.wants(event.event_type), "{:?}", event.event_type);
        w.publish(event).await;
    }
    assert_eq!(w.kept(w.customer.user_id).await, vec![]);
    assert_eq!(w.kept(ADMIN).await, vec![]);
    assert_eq!(mails(w.data.path()), vec![]);
}

#[tokio::test]
async fn a_failed_order_says_what_to_fix() {
    let w = world().await;
    let news = w.order(OrderStatus::Failed, Some("PROFILE_INCOMPLETE"));
    w.publish(&EventEnvelope::new(&OrderFailed(news), "c"))
        .await;
    let kept = w.kept(w.customer.user_id).await;
    assert_eq!(kept.len(), 2, "by email and in the app");
    assert_eq!(kept[0].kind, orders::ORDER_FAILED);
    for missing in ["phone number", "delivery address"] {
        assert!(kept[0].body.contains(missing), "{}", kept[0].body);
    }
    assert!(mails(w.data.path())[0].1.contains("phone number"));
}

#[tokio::test]
async fn a_message_for_an_account_that_is_gone_is_skipped() {
    let w = world().await;
    let mut news = w.delivery(DeliveryStatus::Scheduled);
    news.user_id = Uuid::now_v7();
    news.vendor_id = Uuid::now_v7();
    let event = EventEnvelope::new(&DeliveryScheduled(news), "c");
    w.publish(&event).await;
    assert_eq!(w.made_by(&event).await, vec![]);
    assert_eq!(mails(w.data.path()), vec![]);
}

#[tokio::test]
async fn the_welcome_mail_still_goes_out() {
    let w = world().await;
    let registered = UserRegistered {
        user_id: w.customer.user_id,
        email: w.customer.email.clone(),
        name: "Asha".into(),
        role: Role::Customer,
        ip: "127.0.0.1".into(),
        user_agent: "test".into(),
        region: None,
    };
    let event = EventEnvelope::new(&registered, "c");
    w.publish(&event).await;
    let made = w.made_by(&event).await;
    assert_eq!(made, vec![(w.customer.user_id, "WELCOME".to_owned())]);
}

/// Every event type there is, from the enum's own schema (derived, so never short of one).
fn every_event_type() -> Vec<EventType> {
    let schema = serde_json::to_value(<EventType as utoipa::PartialSchema>::schema()).unwrap();
    let names = schema["enum"]
        .as_array()
        .expect("EventType's schema lists its values");
    names
        .iter()
        .map(|name| serde_json::from_value(name.clone()).unwrap())
        .collect()
}

/// The event types template.yaml's subscription of the notification queue to each topic
/// lets through (its FilterPolicy), by topic name; `None` for a subscription without one.
fn template_filters() -> std::collections::BTreeMap<String, Option<Vec<String>>> {
    let template = include_str!("../../../template.yaml");
    let mut filters = std::collections::BTreeMap::new();
    let mut lines = template.lines().peekable();
    while let Some(line) = lines.next() {
        if !(line.starts_with("  NotificationQueue") && line.ends_with("Events:")
            || line == "  NotificationQueueAdminAlerts:")
        {
            continue;
        }
        let (mut topic, mut filter) = (None, None);
        while let Some(next) = lines.next_if(|l| l.is_empty() || l.starts_with("   ")) {
            let next = next.trim();
            if let Some(resource) = next.strip_prefix("TopicArn: !Ref ") {
                let resource = resource.trim_end_matches("Topic");
                topic = Topic::ALL
                    .into_iter()
                    .find(|t| t.name().replace('-', "") == resource.to_lowercase());
            } else if let Some(rest) = next.strip_prefix("FilterPolicy: { eventType: [") {
                let names = rest.trim_end_matches("] }").split(", ");
                filter = Some(names.map(str::to_owned).collect());
            }
        }
        let topic = topic.unwrap_or_else(|| panic!("{line} names no topic of ours"));
        filters.insert(topic.name().to_owned(), filter);
    }
    filters
}

/// The queue is fed only what the consumer takes: each subscription's filter policy in
/// template.yaml lists exactly the event types of its topic the consumer wants, so SNS
/// keeps the rest (ORDER_PLACED, PAYMENT_SUCCEEDED, …) off the queue for nothing.
#[tokio::test]
async fn the_templates_filter_policies_are_the_event_types_the_consumer_takes() {
    let w = world().await;
    let handler = (CONSUMER.handler)(&w.host.adapters);
    let every = every_event_type();
    assert!(every.len() >= 25, "{every:?}");
    let filters = template_filters();
    let mut expected = std::collections::BTreeMap::new();
    for topic in CONSUMER.topics {
        let taken: Vec<String> = every
            .iter()
            .filter(|t| t.topic() == *topic && handler.wants(**t))
            .map(|t| t.as_str().to_owned())
            .collect();
        expected.insert(topic.name().to_owned(), Some(taken));
    }
    let sorted = |filters: std::collections::BTreeMap<String, Option<Vec<String>>>| {
        filters
            .into_iter()
            .map(|(topic, filter)| {
                (
                    topic,
                    filter.map(|mut f| {
                        f.sort();
                        f
                    }),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(sorted(filters), sorted(expected));
}
