//! The cart service: each customer's one cart, kept as lines and always read back priced
//! from the catalog as it is now.

pub mod routes;
pub mod service;

use milkrun_platform::{HttpService, Needs};
use milkrun_store::table::{AUDIT, CARTS, PRODUCTS};

pub use routes::{documented, router};
pub use service::CartService;

pub static HTTP: HttpService = HttpService {
    name: "cart",
    needs: Needs {
        tables: &[&CARTS, &PRODUCTS, &AUDIT],
        mail: false,
        signing: false,
        verification: false,
        checkout: false,
    },
    api: |adapters| router().with_state(CartService::from_adapters(adapters)),
    start: None,
};
