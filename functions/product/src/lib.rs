//! The product service: the catalog, filtered listings, and availability per variant.

pub mod routes;
pub mod service;

use milkrun_platform::{HttpService, Needs};
use milkrun_store::table::{AUDIT, INVENTORY, PRODUCTS, VENDORS};

pub use routes::{documented, router};
pub use service::{ProductSearch, ProductService};

pub static HTTP: HttpService = HttpService {
    name: "product",
    needs: Needs {
        tables: &[&PRODUCTS, &VENDORS, &INVENTORY, &AUDIT],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    api: |adapters| router().with_state(ProductService::from_adapters(adapters)),
    start: None,
};
