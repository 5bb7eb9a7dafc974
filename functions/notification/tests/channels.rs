//! Channels and promotions on the local host (SQLite, mail and SMS as files): the
//! preference matrix (every kind × every set of channels → which channels carry the message,
//! what is kept SKIPPED), and promotions sent in batches that resume after a crash without
//! sending anyone a promotion twice.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::events::PromotionBatch;
use milkrun_domain::notification::{
    Channel, MessageKind, Notification, NotificationStatus, Promotion,
};
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{NotificationStore, PromotionStore, UserRegistry, UserUpdates};
use milkrun_domain::user::{ClientOrigin, NewUser, User};
use milkrun_domain::values::{Email, PasswordHash, PersonName, Phone, Role};
use milkrun_domain::{Effects, StoreError};
use milkrun_local::{Database, LocalHost, RetryPolicy};
use milkrun_notification::deliver::{Deliverer, Message, Recipient, Source, Variants};
use milkrun_notification::promotions::{self, BatchRun, PromotionText};
use milkrun_notification::{PromotionSender, promotion_sender};
use milkrun_platform::Settings;
use uuid::Uuid;

const UNSUBSCRIBE: &str = "http://milkrun.test/notifications/unsubscribe?token=";

async fn host(data: &Path) -> LocalHost {
    let retry = RetryPolicy {
        attempts: 1,
        first_pause: Duration::from_millis(1),
    };
    let settings = Settings {
        unsubscribe_url: UNSUBSCRIBE.into(),
        ..Settings::default()
    };
    LocalHost::over(Database::in_memory().unwrap(), data, settings, retry)
        .await
        .unwrap()
}

async fn customer(host: &LocalHost, n: usize, phone: bool, opted_in: bool) -> User {
    let new = NewUser {
        email: Email::parse(&format!("c{n}@milkrun.test")).unwrap(),
        name: PersonName::parse("Asha").unwrap(),
        phone: phone.then(|| Phone::parse("+919876543210").unwrap()),
        role: Role::Customer,
    };
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    let origin = ClientOrigin::default();
    let mut user = User::register(new, hash, &origin, Utc::now());
    user.preferences.newsletter_opt_in = opted_in;
    host.adapters
        .stores
        .users
        .create(&user, &Effects::none())
        .await
        .unwrap();
    user
}

/// The files in `DIR/<folder>`, as text.
fn files(data: &Path, folder: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data.join(folder)) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

/// The source of a message never delivered before.
fn fresh_source() -> Source {
    let id = Uuid::now_v7();
    Source {
        id,
        at: Utc::now(),
        event_id: id,
    }
}

/// Each kept notification's channel and status, in order.
fn outcome(kept: &[Notification]) -> Vec<(Channel, NotificationStatus)> {
    kept.iter().map(|k| (k.channel, k.status)).collect()
}

/// Every subset of the three channels.
fn channel_sets() -> Vec<BTreeSet<Channel>> {
    (0..8u8)
        .map(|bits| {
            Channel::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, c)| c)
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn every_kind_goes_by_exactly_the_channels_its_customer_chose() {
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    let deliverer = Deliverer::from_adapters(&host.adapters);
    let stores = &host.adapters.stores;
    let (mut mails, mut texts) = (0, 0);
    for (n, phone) in [(0, true), (1, false)] {
        let mut user = customer(&host, n, phone, true).await;
        for kind in MessageKind::ALL.into_iter().filter(|k| k.switchable()) {
            for chosen in channel_sets() {
                let change = [(kind, chosen.clone())].into();
                user.preferences.notifications =
                    user.preferences.notifications.with(change).unwrap();
                user = stores.users.update(user, &Effects::none()).await.unwrap();
                let message = Message {
                    kind: "MATRIX",
                    about: kind,
                    to: Recipient::Customer(user.user_id),
                    subject: format!("{kind:?}"),
                    body: format!("{kind:?} by {chosen:?}"),
                };
                let source = fresh_source();
                let kept = deliverer
                    .deliver(source, &message, &Variants::default())
                    .await
                    .unwrap();
                let got = outcome(&kept);
                let expected: Vec<(Channel, NotificationStatus)> = if chosen.is_empty() {
                    // Kept so that it can be listed; a promotion nobody takes is not.
                    match kind {
                        MessageKind::Promotions => vec![],
                        _ => vec![(Channel::InApp, NotificationStatus::Skipped)],
                    }
                } else {
                    chosen
                        .iter()
                        .map(|c| match (c, phone) {
                            (Channel::Sms, false) => (*c, NotificationStatus::Skipped),
                            _ => (*c, NotificationStatus::Sent),
                        })
                        .collect()
                };
                assert_eq!(got, expected, "{kind:?} by {chosen:?}, phone: {phone}");
                for k in &kept {
                    assert_eq!(
                        k.notification_id,
                        Notification::id_on(source.id, "MATRIX", k.channel)
                    );
                    let listed = stores.notifications.kept(k).await.unwrap();
                    assert!(listed, "{k:?} is kept");
                }
                mails += usize::from(chosen.contains(&Channel::Email));
                texts += usize::from(chosen.contains(&Channel::Sms) && phone);
                assert_eq!(
                    files(data.path(), "outbox").len(),
                    mails,
                    "{kind:?} {chosen:?}"
                );
                assert_eq!(
                    files(data.path(), "sms").len(),
                    texts,
                    "{kind:?} {chosen:?}"
                );
                // Delivered again (a redelivered event): nothing new is sent or kept.
                let again = deliverer
                    .deliver(source, &message, &Variants::default())
                    .await
                    .unwrap();
                assert_eq!(again, vec![], "{kind:?} by {chosen:?}");
            }
        }
    }
    let sms = files(data.path(), "sms");
    assert!(
        sms.iter().all(|t| t.starts_with("To: +919876543210\n")),
        "{sms:?}"
    );
    assert!(sms.iter().any(|t| t.contains("Wallet by {Sms}")), "{sms:?}");
}

#[tokio::test]
async fn account_mail_goes_by_email_whatever_else_is_switched_off() {
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    let mut user = customer(&host, 0, true, false).await;
    let off = MessageKind::ALL
        .into_iter()
        .filter(|k| k.switchable())
        .map(|k| (k, BTreeSet::new()))
        .collect();
    user.preferences.notifications = user.preferences.notifications.with(off).unwrap();
    let user = host
        .adapters
        .stores
        .users
        .update(user, &Effects::none())
        .await
        .unwrap();
    let deliverer = Deliverer::from_adapters(&host.adapters);
    let welcome = Message::new(
        "WELCOME",
        Recipient::Customer(user.user_id),
        "Hi".into(),
        "Hello".into(),
    );
    let source = fresh_source();
    let kept = deliverer
        .deliver(source, &welcome, &Variants::default())
        .await
        .unwrap();
    assert_eq!(
        outcome(&kept),
        vec![(Channel::Email, NotificationStatus::Sent)]
    );
    // A promotion to a customer who did not opt in goes nowhere and is not kept.
    let promo = Message::new(
        "PROMOTION",
        Recipient::Customer(user.user_id),
        "Sale".into(),
        "Now".into(),
    );
    let kept = deliverer
        .deliver(source, &promo, &Variants::default())
        .await
        .unwrap();
    assert_eq!(kept, vec![]);
}

/// The promotions store, whose first save fails: a crash after a batch's messages went out
/// and before its progress was saved.
struct CrashOnce {
    inner: Arc<dyn PromotionStore>,
    crashed: AtomicBool,
}

#[async_trait]
impl PromotionStore for CrashOnce {
    async fn create(&self, promotion: &Promotion, effects: &Effects) -> Result<(), StoreError> {
        self.inner.create(promotion, effects).await
    }
    async fn get(&self, promotion_id: Uuid) -> Result<Option<Promotion>, StoreError> {
        self.inner.get(promotion_id).await
    }
    async fn save(&self, promotion: Promotion, effects: &Effects) -> Result<Promotion, StoreError> {
        if !self.crashed.swap(true, Ordering::SeqCst) {
            return Err(StoreError::backend_message("saving", "crashed"));
        }
        self.inner.save(promotion, effects).await
    }
}

fn admin() -> AuditContext {
    AuditContext {
        user_id: Some(Uuid::now_v7()),
        role: Some(Role::Admin),
        origin: ClientOrigin::default(),
        correlation_id: "promo".into(),
    }
}

#[tokio::test]
async fn a_promotion_resumes_after_a_crash_and_reaches_each_opted_in_customer_once() {
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    let mut opted_in = Vec::new();
    for n in 0..5 {
        opted_in.push(customer(&host, n, false, true).await);
    }
    let outsider = customer(&host, 9, false, false).await;
    let store = host.adapters.stores.promotions.clone();
    let text =
        PromotionText::parse(Some("Ghee week"), Some("20% off ghee.\nThis week only.")).unwrap();
    let promotion = promotions::start(store.as_ref(), &admin(), text)
        .await
        .unwrap();
    let crashing = PromotionSender {
        promotions: Arc::new(CrashOnce {
            inner: store.clone(),
            crashed: AtomicBool::new(false),
        }),
        ..promotion_sender(&host.adapters, 2)
    };
    let first = PromotionBatch {
        promotion_id: promotion.promotion_id,
        batch: 0,
    };
    assert!(
        crashing.run_batch(&first, "c").await.is_err(),
        "crashed before saving"
    );
    assert_eq!(
        files(data.path(), "outbox").len(),
        2,
        "the first batch went out"
    );

    // The event is redelivered: the batch runs again from the saved cursor.
    let again = crashing.run_batch(&first, "c").await.unwrap();
    assert_eq!(
        again,
        BatchRun::Ran {
            sent: 0,
            skipped: 2,
            done: false
        }
    );
    assert_eq!(files(data.path(), "outbox").len(), 2, "nobody twice");
    assert_eq!(
        crashing.run_batch(&first, "c").await.unwrap(),
        BatchRun::Stale
    );

    let sender = promotion_sender(&host.adapters, 2);
    let mut batch = 1;
    loop {
        let next = PromotionBatch {
            promotion_id: promotion.promotion_id,
            batch,
        };
        match sender.run_batch(&next, "c").await.unwrap() {
            BatchRun::Ran { done: true, .. } => break,
            BatchRun::Ran { .. } => batch += 1,
            BatchRun::Stale => panic!("batch {batch} is the next one"),
        }
    }
    let saved = store.get(promotion.promotion_id).await.unwrap().unwrap();
    assert_eq!(
        (saved.sent, saved.skipped, saved.batches, saved.done),
        (3, 2, 3, true)
    );
    let mails = files(data.path(), "outbox");
    assert_eq!(mails.len(), 5);
    let keys = &host.adapters.keys;
    for user in &opted_in {
        let theirs: Vec<&String> = mails
            .iter()
            .filter(|m| m.starts_with(&format!("To: {}\n", user.email)))
            .collect();
        assert_eq!(theirs.len(), 1, "{}", user.email);
        assert!(theirs[0].contains("20% off ghee.\nThis week only."));
        let token = theirs[0]
            .split(UNSUBSCRIBE)
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        let verified = keys
            .verification()
            .unwrap()
            .verify_unsubscribe(token)
            .unwrap();
        assert_eq!(
            verified, user.user_id,
            "the link unsubscribes its own reader"
        );
        let page = PageRequest::first(10);
        let kept = host
            .adapters
            .stores
            .notifications
            .for_user(user.user_id, &page)
            .await
            .unwrap()
            .items;
        let channels: Vec<Channel> = kept.iter().map(|k| k.channel).collect();
        assert_eq!(channels.len(), 2, "email and in-app: {channels:?}");
    }
    assert!(!mails.iter().any(|m| m.contains(outsider.email.as_str())));
}
