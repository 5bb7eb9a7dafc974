//! The whole API's OpenAPI document: `docs/openapi.json`, compiled in. The registry's test
//! `docs_openapi_json_is_what_the_routes_declare` keeps that file equal to what every
//! service's routes declare, so this function depends on no service.

use utoipa::openapi::OpenApi;

/// `docs/openapi.json` as committed.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

/// The document this function serves.
pub fn openapi() -> OpenApi {
    serde_json::from_str(OPENAPI_JSON).expect("docs/openapi.json is an OpenAPI document")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// What `/openapi.json` answers is the committed file, field for field.
    #[test]
    fn serves_the_committed_document_unchanged() {
        let committed: Value = serde_json::from_str(super::OPENAPI_JSON).unwrap();
        let served = milkrun_http::docs::document(super::openapi());
        assert_eq!(serde_json::to_value(served).unwrap(), committed);
    }
}
