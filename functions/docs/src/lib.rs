//! The whole API's OpenAPI document: `docs/openapi.json`, compiled in. The registry's test
//! `docs_openapi_json_is_what_the_routes_declare` keeps that file equal to what every
//! service's routes declare, so this function depends on no service.

/// `docs/openapi.json` as committed.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

/// The document this function serves, as committed.
pub fn openapi() -> serde_json::Value {
    serde_json::from_str(OPENAPI_JSON).expect("docs/openapi.json is JSON")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_document_is_an_openapi_3_1_document() {
        let document = super::openapi();
        assert_eq!(document["openapi"], "3.1.0");
        assert_eq!(document["info"]["title"], "milkrun API");
        assert!(document["paths"]["/orders"]["post"].is_object());
    }
}
