//! The notification service: turns events into messages and keeps each one for its
//! recipient (`GET /notifications`). The welcome mail is its first consumer.

pub mod routes;
pub mod welcome;

use std::sync::Arc;

use milkrun_domain::events::Topic;
use milkrun_platform::{ConsumerService, HttpService, Needs};
use milkrun_store::table::{NOTIFICATIONS, PROCESSED_EVENTS};

pub use routes::{NotificationService, documented, router};
pub use welcome::WelcomeMail;

pub static HTTP: HttpService = HttpService {
    name: "notification",
    needs: Needs {
        tables: &[&NOTIFICATIONS],
        mail: false,
        signing: false,
        verification: false,
    },
    api: |adapters| {
        router().with_state(NotificationService {
            notifications: adapters.stores.notifications.clone(),
        })
    },
    start: None,
};

/// USER_REGISTERED → the welcome mail.
pub static CONSUMER: ConsumerService = ConsumerService {
    name: "notification-consumer",
    needs: Needs {
        tables: &[&NOTIFICATIONS, &PROCESSED_EVENTS],
        mail: true,
        signing: false,
        verification: true,
    },
    topics: &[Topic::UserEvents],
    handler: |adapters| {
        Arc::new(WelcomeMail {
            mailer: adapters.mailer.clone(),
            notifications: adapters.stores.notifications.clone(),
            keys: adapters.keys.clone(),
            verify_email_url: adapters.settings.verify_email_url.clone(),
        })
    },
};
