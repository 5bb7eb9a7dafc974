//! The product service: the catalog, filtered listings, and availability per variant.

pub mod routes;
pub mod service;

use milkrun_platform::{HttpService, Needs};
use milkrun_store::table::{AUDIT, INVENTORY, PRODUCTS, VENDORS};

pub use routes::{api, routes};
pub use service::{ProductSearch, ProductService};

pub static HTTP: HttpService = HttpService {
    name: "product",
    needs: Needs {
        tables: &[&PRODUCTS, &VENDORS, &INVENTORY, &AUDIT],
        mail: false,
        signing: false,
        verification: false,
    },
    api: |adapters| api(ProductService::from_adapters(adapters)),
    openapi: || routes().into_openapi(),
    start: None,
};
