//! The whole API's OpenAPI document, from the registry of every service's documented
//! routes. Describing routes needs no service instance, so this function carries no state.

pub use milkrun_registry::openapi;
