//! What the entity stores promise about effects and messages: a change and its audit
//! entries and events commit together or not at all; the outbox hands events out oldest
//! first until delivered; consumers' records (notifications, processed events) hold.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use milkrun_domain::audit::AuditContext;
use milkrun_domain::events::{EventEnvelope, LowStock, Topic, UserRegistered};
use milkrun_domain::notification::{Channel, DeadLetter, Notification, NotificationStatus};
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{
    AuditLog, DeadLetters, Journal, NotificationStore, PendingEvents, ProcessedEvents, UserRegistry,
};
use milkrun_domain::{Effects, StoreError};
use milkrun_store::Stores;
use milkrun_store::effects::{audit_partition, outbox_partition, stream_events};
use milkrun_store::ops::{Key, Query};
use milkrun_store::table::{AUDIT, OUTBOX};
use uuid::Uuid;

use crate::users::sample_user;

fn registered(user: &milkrun_domain::user::User, marker: &str) -> Effects {
    let context = AuditContext::system(marker, "contract");
    let event = UserRegistered {
        user_id: user.user_id,
        email: user.email.clone(),
        name: user.name.to_string(),
        role: user.role,
        ip: "127.0.0.1".into(),
        user_agent: "contract".into(),
        region: None,
    };
    Effects::audited(context.entry("USER_REGISTERED", "USER", user.user_id))
        .with_event(&event, marker)
}

/// The pending events carrying `marker` as their correlation id.
async fn pending_with(stores: &Stores, marker: &str) -> Vec<EventEnvelope> {
    let all = stores.outbox.pending(10_000).await.unwrap();
    all.into_iter()
        .filter(|e| e.correlation_id == marker)
        .collect()
}

/// The committed events carrying `marker`: those the audit entries of `entity` carry (what
/// the audit table's stream hands the publisher), and those the outbox holds (where the
/// embedded store puts the carried ones too), each once.
async fn committed_with(stores: &Stores, entity: &str, marker: &str) -> Vec<EventEnvelope> {
    let trail = Query::table(&AUDIT, audit_partition(entity)).consistent();
    let mut events = pending_with(stores, marker).await;
    for item in stores.items.query(&trail).await.unwrap().items {
        let carried = stream_events(item).unwrap();
        events.extend(carried.into_iter().filter(|e| e.correlation_id == marker));
    }
    events.sort_by_key(|e| e.event_id);
    events.dedup_by_key(|e| e.event_id);
    events
}

pub async fn an_audit_entry_carries_its_changes_new_events_and_the_outbox_the_rest(stores: Stores) {
    let marker = Uuid::new_v4().to_string();
    let context = AuditContext::system(&marker, "contract");
    let entity = Uuid::new_v4();
    let derived = {
        let mut event = EventEnvelope::new(&low_stock(), &marker);
        event.event_id = Uuid::new_v5(&entity, b"derived");
        event
    };
    let effects = Effects::audited(context.entry("ALERTED", "INVENTORY", entity))
        .with_event(&low_stock(), &marker)
        .with_envelope(EventEnvelope::new(&low_stock(), &marker).on(Topic::AdminAlerts))
        .with_envelope(derived.clone());
    stores.audit.commit(&effects).await.unwrap();
    let trail = Query::table(&AUDIT, audit_partition(&entity.to_string())).consistent();
    let items = stores.items.query(&trail).await.unwrap().items;
    assert_eq!(items.len(), 1, "one audit entry");
    let carried = stream_events(items[0].clone()).unwrap();
    assert_eq!(
        carried,
        effects.events[..2],
        "the new events ride in the entry"
    );
    assert_eq!(
        carried[1].topic(),
        Topic::AdminAlerts,
        "each to its own topic"
    );
    let derived_key = Key::partition(outbox_partition(&derived));
    let outbox = stores.items.get(&OUTBOX, &derived_key, true).await;
    assert!(
        outbox.unwrap().is_some(),
        "a derived id's event is put in the outbox, only if absent"
    );
    let again =
        Effects::audited(context.entry("ALERTED", "INVENTORY", entity)).with_envelope(derived);
    assert!(
        matches!(
            stores.audit.commit(&again).await,
            Err(StoreError::AlreadyExists)
        ),
        "so a change that commits it again is refused"
    );
    assert_eq!(
        committed_with(&stores, &entity.to_string(), &marker)
            .await
            .len(),
        3
    );
    let (entity, first) = (entity.to_string(), PageRequest::first(5));
    let trail = stores.audit.for_entity(&entity, &first).await;
    assert_eq!(
        trail.unwrap().items.len(),
        1,
        "and its entry is not written"
    );
}

pub async fn a_change_and_its_effects_commit_together(stores: Stores) {
    let marker = Uuid::new_v4().to_string();
    let user = sample_user("effects");
    stores
        .users
        .create(&user, &registered(&user, &marker))
        .await
        .unwrap();
    let trail = stores
        .audit
        .for_entity(&user.user_id.to_string(), &PageRequest::first(5))
        .await
        .unwrap();
    assert_eq!(trail.items.len(), 1);
    assert_eq!(trail.items[0].action, "USER_REGISTERED");
    let events = committed_with(&stores, &user.user_id.to_string(), &marker).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].decode::<UserRegistered>().unwrap().user_id,
        user.user_id
    );

    let loser_marker = Uuid::new_v4().to_string();
    let mut loser = sample_user("effects");
    loser.email = user.email.clone();
    let refused = stores
        .users
        .create(&loser, &registered(&loser, &loser_marker))
        .await;
    assert!(matches!(refused, Err(StoreError::AlreadyExists)));
    let loser_trail = stores
        .audit
        .for_entity(&loser.user_id.to_string(), &PageRequest::first(5))
        .await
        .unwrap();
    assert!(
        loser_trail.items.is_empty(),
        "a refused change leaves no audit entry"
    );
    assert!(
        committed_with(&stores, &loser.user_id.to_string(), &loser_marker)
            .await
            .is_empty(),
        "and no event"
    );
}

pub async fn replayed_effects_are_refused_whole(stores: Stores) {
    let marker = Uuid::new_v4().to_string();
    let context = AuditContext::system(&marker, "contract");
    let entity = Uuid::new_v4();
    let effects = Effects::audited(context.entry("ALERTED", "INVENTORY", entity));
    stores.audit.commit(&effects).await.unwrap();
    let again = effects.clone().with_event(&low_stock(), &marker);
    assert!(matches!(
        stores.audit.commit(&again).await,
        Err(StoreError::AlreadyExists)
    ));
    assert!(
        committed_with(&stores, &entity.to_string(), &marker)
            .await
            .is_empty(),
        "the event of a refused commit is not kept"
    );
    stores.audit.commit(&Effects::none()).await.unwrap();
}

fn low_stock() -> LowStock {
    LowStock {
        vendor_id: Uuid::new_v4(),
        product_id: Uuid::new_v4(),
        variant_id: Uuid::new_v4(),
        stock: 1,
        reserved: 0,
        low_stock_threshold: 10,
    }
}

pub async fn the_outbox_hands_out_events_oldest_first_until_delivered(stores: Stores) {
    let marker = Uuid::new_v4().to_string();
    let mut sent = Vec::new();
    for _ in 0..3 {
        let effects = Effects::none().with_event(&low_stock(), &marker);
        sent.push(effects.events[0].clone());
        stores.audit.commit(&effects).await.unwrap();
    }
    let alert = EventEnvelope::new(&low_stock(), &marker).on(Topic::AdminAlerts);
    stores
        .audit
        .commit(&Effects::none().with_envelope(alert.clone()))
        .await
        .unwrap();
    sent.push(alert);
    let pending = pending_with(&stores, &marker).await;
    assert_eq!(pending, sent, "whole envelopes, oldest first");
    assert_eq!(
        pending[3].topic(),
        Topic::AdminAlerts,
        "the topic it was written for"
    );
    stores.outbox.delivered(sent[0].event_id).await.unwrap();
    let left: Vec<Uuid> = pending_with(&stores, &marker)
        .await
        .iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(left, [sent[1].event_id, sent[2].event_id, sent[3].event_id]);
}

fn notification(user_id: Uuid, minutes_ago: i64) -> Notification {
    let event_id = Uuid::now_v7();
    Notification {
        notification_id: Notification::id_for(event_id, "WELCOME"),
        user_id,
        channel: Channel::Email,
        kind: "WELCOME".into(),
        subject: "Welcome".into(),
        body: "Hello".into(),
        status: NotificationStatus::Sent,
        created_at: Utc::now() - Duration::minutes(minutes_ago),
        event_id,
    }
}

pub async fn notifications_are_kept_once_and_listed_newest_first(stores: Stores) {
    let (user, other) = (Uuid::new_v4(), Uuid::new_v4());
    let older = notification(user, 10);
    let newer = notification(user, 1);
    assert!(stores.notifications.record(&older).await.unwrap());
    assert!(stores.notifications.record(&newer).await.unwrap());
    assert!(
        stores
            .notifications
            .record(&notification(other, 5))
            .await
            .unwrap()
    );
    let mut again = newer.clone();
    again.body = "changed".into();
    assert!(
        !stores.notifications.record(&again).await.unwrap(),
        "a redelivery keeps the first"
    );
    let first = stores
        .notifications
        .for_user(user, &PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(first.items, [newer]);
    let rest = PageRequest {
        limit: 1,
        cursor: first.next_cursor,
    };
    let second = stores.notifications.for_user(user, &rest).await.unwrap();
    assert_eq!((second.items, second.next_cursor), (vec![older], None));
}

pub async fn processed_events_are_remembered_per_consumer(stores: Stores) {
    let event = Uuid::now_v7();
    assert!(!stores.processed.seen("contract", event).await.unwrap());
    stores.processed.remember("contract", event).await.unwrap();
    assert!(stores.processed.seen("contract", event).await.unwrap());
    assert!(
        !stores.processed.seen("another", event).await.unwrap(),
        "per consumer"
    );
}

pub async fn dead_letters_list_oldest_first_and_leave_when_removed(stores: Stores) {
    let letter = |n: u32| DeadLetter {
        dead_letter_id: Uuid::now_v7(),
        consumer: "contract".into(),
        topic: Topic::UserEvents,
        event: EventEnvelope::new(&low_stock(), "dlq"),
        error: format!("failure {n}"),
        attempts: 3,
        failed_at: Utc::now(),
    };
    let (first, second) = (letter(1), letter(2));
    stores.dead_letters.add(&first).await.unwrap();
    stores.dead_letters.add(&second).await.unwrap();
    let listed: HashSet<Uuid> = stores
        .dead_letters
        .list(100)
        .await
        .unwrap()
        .iter()
        .map(|l| l.dead_letter_id)
        .collect();
    assert!(listed.contains(&first.dead_letter_id) && listed.contains(&second.dead_letter_id));
    let all = stores.dead_letters.list(100).await.unwrap();
    let order: Vec<Uuid> = all
        .iter()
        .map(|l| l.dead_letter_id)
        .filter(|id| [first.dead_letter_id, second.dead_letter_id].contains(id))
        .collect();
    assert_eq!(order, [first.dead_letter_id, second.dead_letter_id]);
    assert_eq!(
        all.iter()
            .find(|l| l.dead_letter_id == first.dead_letter_id),
        Some(&first)
    );
    stores
        .dead_letters
        .remove(first.dead_letter_id)
        .await
        .unwrap();
    let left = stores.dead_letters.list(100).await.unwrap();
    assert!(
        left.iter()
            .all(|l| l.dead_letter_id != first.dead_letter_id)
    );
}

#[macro_export]
macro_rules! outbox_contract {
    ($make:expr) => {
        $crate::outbox_contract!(@cases $make;
            a_change_and_its_effects_commit_together,
            an_audit_entry_carries_its_changes_new_events_and_the_outbox_the_rest,
            replayed_effects_are_refused_whole,
            the_outbox_hands_out_events_oldest_first_until_delivered,
            notifications_are_kept_once_and_listed_newest_first,
            processed_events_are_remembered_per_consumer,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::outbox::$case(milkrun_store::Stores::over($make)).await;
            }
        )+
    };
}

/// Every contract suite over one item store: the item store's own, and every entity
/// store's over it. `$make` is an async expression giving a fresh `Arc<dyn ItemStore>`.
#[macro_export]
macro_rules! store_contract {
    ($make:expr) => {
        mod item_store {
            use super::*;
            $crate::item_store_contract!($make);
        }
        mod users {
            use super::*;
            $crate::user_store_contract!($make);
        }
        mod vendors {
            use super::*;
            $crate::vendor_store_contract!($make);
        }
        mod products {
            use super::*;
            $crate::product_store_contract!($make);
        }
        mod carts {
            use super::*;
            $crate::cart_store_contract!($make);
        }
        mod idempotency {
            use super::*;
            $crate::idempotency_store_contract!($make);
        }
        mod orders {
            use super::*;
            $crate::order_store_contract!($make);
        }
        mod payments {
            use super::*;
            $crate::payment_store_contract!($make);
        }
        mod deliveries {
            use super::*;
            $crate::delivery_store_contract!($make);
        }
        mod stock {
            use super::*;
            $crate::inventory_store_contract!($make);
        }
        mod audit {
            use super::*;
            $crate::audit_log_contract!($make);
        }
        mod outbox {
            use super::*;
            $crate::outbox_contract!($make);
        }
        mod accounts {
            use super::*;
            $crate::accounts_contract!($make);
        }
        mod subscriptions {
            use super::*;
            $crate::subscription_store_contract!($make);
        }
        mod wallets {
            use super::*;
            $crate::wallet_store_contract!($make);
        }
        mod analytics {
            use super::*;
            $crate::analytics_log_contract!($make);
        }
        mod reports {
            use super::*;
            $crate::report_store_contract!($make);
        }
    };
}
