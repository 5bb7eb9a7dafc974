//! The reporting service: the audit trail of one entity, for admins.

pub mod routes;

use milkrun_platform::{HttpService, Needs};
use milkrun_store::table::AUDIT;

pub use routes::{ReportingService, documented, router};

pub static HTTP: HttpService = HttpService {
    name: "reporting",
    needs: Needs {
        tables: &[&AUDIT],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    api: |adapters| router().with_state(ReportingService::from_adapters(adapters)),
    start: None,
};
