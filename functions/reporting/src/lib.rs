//! The reporting service: the audit trail of one entity and the analytics log, for admins;
//! and the consumer that keeps every event in that log.

pub mod analytics;
pub mod routes;

use std::sync::Arc;

use milkrun_domain::events::Topic;
use milkrun_platform::{ConsumerService, HttpService, Needs};
use milkrun_store::table::{ANALYTICS, AUDIT};

pub use analytics::AnalyticsRecorder;
pub use routes::{ReportingService, documented, router};

pub static HTTP: HttpService = HttpService {
    name: "reporting",
    needs: Needs {
        tables: &[&AUDIT, &ANALYTICS],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    api: |adapters| router().with_state(ReportingService::from_adapters(adapters)),
    start: None,
};

/// Every event on every topic → one AnalyticsEvent (SPEC §6 analytics log).
pub static ANALYTICS_CONSUMER: ConsumerService = ConsumerService {
    name: "analytics-consumer",
    needs: Needs {
        tables: &[&ANALYTICS],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    topics: &Topic::ALL,
    handler: |adapters| {
        Arc::new(AnalyticsRecorder {
            log: adapters.stores.analytics.clone(),
        })
    },
};
