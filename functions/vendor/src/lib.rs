//! The vendor service: create, read, update and deactivate vendors; find them by pincode.

pub mod routes;
pub mod service;

use milkrun_platform::{HttpService, Needs};
use milkrun_store::table::{AUDIT, VENDORS};

pub use routes::{documented, router};
pub use service::VendorService;

pub static HTTP: HttpService = HttpService {
    name: "vendor",
    needs: Needs {
        tables: &[&VENDORS, &AUDIT],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    api: |adapters| router().with_state(VendorService::from_adapters(adapters)),
    start: None,
};
