//! `Paging`: `?limit=&cursor=` with cursors sealed per listing, so a cursor that was edited,
//! made up, or issued for other filters is a 404 naming `cursor` (the page it names does not
//! exist), never a store's problem.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use milkrun_auth::KeyRing;
use milkrun_domain::FieldErrors;
use milkrun_domain::page::{Page, PageRequest};

use crate::auth::Auth;
use crate::error::ApiError;

/// `?limit=&cursor=` alone, for listings with no filters.
#[derive(Debug, serde::Deserialize)]
pub struct PageQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

impl utoipa::IntoParams for PageQuery {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        milkrun_domain::schema::paging_params().into()
    }
}

/// Opens incoming cursors and seals outgoing ones for one listing.
pub struct Paging(Arc<KeyRing>);

impl Paging {
    /// The page asked for; `scope` names the listing and every filter that shapes it. A bad
    /// `limit` joins `errors` (400); a cursor this listing did not issue is the `Err` (404),
    /// for the caller to return once the fields are known to be well-formed.
    pub fn request(
        &self,
        scope: &str,
        limit: Option<&str>,
        cursor: Option<String>,
        errors: &mut FieldErrors,
    ) -> Result<PageRequest, ApiError> {
        let mut page = PageRequest::parse(limit, None, errors);
        if let Some(sealed) = cursor.filter(|c| !c.is_empty()) {
            let opened = self.0.cursors.open(scope, &sealed);
            page.cursor = Some(opened.map_err(|_| ApiError::unknown_cursor())?);
        }
        Ok(page)
    }

    /// `page` with its next cursor sealed for `scope`.
    pub fn seal<T>(&self, scope: &str, mut page: Page<T>) -> Page<T> {
        page.next_cursor = page
            .next_cursor
            .map(|cursor| self.0.cursors.seal(scope, &cursor));
        page
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Paging(Auth::of(parts)?.keys))
    }
}
