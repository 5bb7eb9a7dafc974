//! `Paging`: `?limit=&cursor=` with cursors sealed per listing, so a cursor that was edited,
//! made up, or issued for other filters is a 400 naming `cursor`, never a store's problem.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use milkrun_auth::KeyRing;
use milkrun_domain::FieldErrors;
use milkrun_domain::page::{Page, PageRequest};

use crate::auth::Auth;
use crate::error::ApiError;

/// Opens incoming cursors and seals outgoing ones for one listing.
pub struct Paging(Arc<KeyRing>);

impl Paging {
    /// The page asked for; `scope` names the listing and every filter that shapes it.
    pub fn request(
        &self,
        scope: &str,
        limit: Option<&str>,
        cursor: Option<String>,
        errors: &mut FieldErrors,
    ) -> PageRequest {
        let cursor = cursor.filter(|c| !c.is_empty()).and_then(|sealed| {
            let opened = self.0.cursors.open(scope, &sealed).ok();
            if opened.is_none() {
                errors.add("cursor", "is not a cursor this listing issued");
            }
            opened
        });
        PageRequest::parse(limit, cursor, errors)
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
