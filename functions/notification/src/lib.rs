//! The notification service: turns events into messages and keeps each one for its
//! recipient (`GET /notifications`): the welcome mail, and the order, payment, delivery and
//! fraud messages.

pub mod handlers;
pub mod orders;
pub mod routes;
pub mod welcome;

use std::sync::Arc;

use milkrun_domain::events::Topic;
use milkrun_domain::ports::EventHandler;
use milkrun_platform::{Adapters, ConsumerService, HttpService, Needs};
use milkrun_store::table::{NOTIFICATIONS, PROCESSED_EVENTS, USERS, VENDORS};

pub use handlers::Handlers;
pub use orders::OrderMessages;
pub use routes::{NotificationService, documented, router};
pub use welcome::WelcomeMail;

pub static HTTP: HttpService = HttpService {
    name: "notification",
    needs: Needs {
        tables: &[&NOTIFICATIONS],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    api: |adapters| {
        router().with_state(NotificationService {
            notifications: adapters.stores.notifications.clone(),
        })
    },
    start: None,
};

/// The name the consumer's processed events and dead letters are kept under. It is the
/// name it had when the welcome mail was all it sent, kept so that events processed then
/// are still recognised on redelivery and their dead letters still replay (a replay finds
/// the consumer by this name).
pub const CONSUMER_NAME: &str = "welcome-mail";

/// USER_REGISTERED → the welcome mail; ORDER_*, PAYMENT_*, DELIVERY_* and FRAUD_SUSPECTED →
/// the customers', vendors' and managers' messages.
pub static CONSUMER: ConsumerService = ConsumerService {
    name: "notification-consumer",
    needs: Needs {
        tables: &[&NOTIFICATIONS, &PROCESSED_EVENTS, &USERS, &VENDORS],
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
            vec![welcome_mail(adapters), order_messages(adapters)],
        ))
    },
};

fn welcome_mail(adapters: &Adapters) -> Arc<dyn EventHandler> {
    Arc::new(WelcomeMail {
        mailer: adapters.mailer.clone(),
        notifications: adapters.stores.notifications.clone(),
        keys: adapters.keys.clone(),
        verify_email_url: adapters.settings.verify_email_url.clone(),
    })
}

fn order_messages(adapters: &Adapters) -> Arc<dyn EventHandler> {
    Arc::new(OrderMessages {
        mailer: adapters.mailer.clone(),
        notifications: adapters.stores.notifications.clone(),
        users: adapters.stores.users.clone(),
        vendors: adapters.stores.vendors.clone(),
    })
}
