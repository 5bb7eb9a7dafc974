//! The reporting service: the audit trail of one entity, for admins.

pub mod routes;

use milkrun_platform::{HttpService, Needs};
use milkrun_store::table::AUDIT;

pub use routes::{ReportingService, api, routes};

pub static HTTP: HttpService = HttpService {
    name: "reporting",
    needs: Needs {
        tables: &[&AUDIT],
        mail: false,
        signing: false,
        verification: false,
    },
    api: |adapters| api(ReportingService::from_adapters(adapters)),
    openapi: || routes().into_openapi(),
    start: None,
};
