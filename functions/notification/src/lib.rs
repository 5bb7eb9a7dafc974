//! The notification service: turns events into messages and keeps each one for its
//! recipient (`GET /notifications`): the welcome mail, the order, payment, delivery,
//! subscription, wallet and fraud messages, and admins' promotions. Every message to a
//! customer goes through one [`Deliverer`], by the channels the customer's preferences
//! allow; every word is in [`templates`].

pub mod deliver;
pub mod handlers;
pub mod orders;
pub mod promotions;
pub mod routes;
pub mod templates;
pub mod welcome;

use std::sync::Arc;

use milkrun_domain::events::Topic;
use milkrun_domain::ports::EventHandler;
use milkrun_platform::{Adapters, ConsumerService, HttpService, Needs};
use milkrun_store::table::{AUDIT, NOTIFICATIONS, OUTBOX, USERS, VENDORS};

pub use deliver::Deliverer;
pub use handlers::Handlers;
pub use orders::OrderMessages;
pub use promotions::PromotionSender;
pub use routes::{NotificationService, documented, router};
pub use welcome::WelcomeMail;

pub static HTTP: HttpService = HttpService {
    name: "notification",
    needs: Needs {
        tables: &[&NOTIFICATIONS, &AUDIT, &OUTBOX],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    api: |adapters| {
        router().with_state(NotificationService {
            notifications: adapters.stores.notifications.clone(),
            promotions: adapters.stores.promotions.clone(),
        })
    },
    start: None,
};

/// The name the consumer's dead letters are kept under. It is the name it had when the
/// welcome mail was all it sent, kept so that dead letters from then still replay (a replay
/// finds the consumer by this name). It keeps no processed-event records: its messages'
/// derived ids are its dedup ([`handlers::Handlers`]).
pub const CONSUMER_NAME: &str = "welcome-mail";

/// USER_REGISTERED → the welcome mail; ORDER_*, PAYMENT_*, DELIVERY_*, subscription, wallet
/// and FRAUD_SUSPECTED → the customers', vendors' and managers' messages; PROMOTION_BATCH →
/// one batch of a promotion (the next batch's event is written with its progress).
pub static CONSUMER: ConsumerService = ConsumerService {
    name: "notification-consumer",
    needs: Needs {
        tables: &[&NOTIFICATIONS, &USERS, &VENDORS, &OUTBOX],
        mail: true,
        signing: false,
        verification: true,
        checkout: false,
    },
    topics: &[
        Topic::UserEvents,
        Topic::OrderEvents,
        Topic::PaymentEvents,
        Topic::DeliveryEvents,
        Topic::AdminAlerts,
    ],
    handler: |adapters| {
        Arc::new(Handlers::new(
            CONSUMER_NAME,
            vec![
                welcome_mail(adapters),
                order_messages(adapters),
                promotion_batches(adapters),
            ],
        ))
    },
};

fn welcome_mail(adapters: &Adapters) -> Arc<dyn EventHandler> {
    Arc::new(WelcomeMail {
        deliverer: Deliverer::from_adapters(adapters),
        keys: adapters.keys.clone(),
        verify_email_url: adapters.settings.verify_email_url.clone(),
    })
}

fn order_messages(adapters: &Adapters) -> Arc<dyn EventHandler> {
    Arc::new(OrderMessages {
        deliverer: Deliverer::from_adapters(adapters),
    })
}

fn promotion_batches(adapters: &Adapters) -> Arc<dyn EventHandler> {
    Arc::new(promotion_sender(adapters, promotions::BATCH_SIZE))
}

/// The batch sender over `adapters`, `batch_size` customers a batch.
pub fn promotion_sender(adapters: &Adapters, batch_size: u32) -> PromotionSender {
    PromotionSender {
        promotions: adapters.stores.promotions.clone(),
        audience: adapters.stores.users.clone(),
        deliverer: Deliverer::from_adapters(adapters),
        keys: adapters.keys.clone(),
        unsubscribe_url: adapters.settings.unsubscribe_url.clone(),
        batch_size,
    }
}
