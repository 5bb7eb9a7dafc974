use serde::Serialize;

use crate::error::FieldErrors;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

/// A request for one page of a list: how many items and where to resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// Opaque position issued by the adapter that produced the previous page.
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }

    /// Parses `?limit=&cursor=`: limit 1..=100, default 20.
    pub fn parse(limit: Option<&str>, cursor: Option<String>, errors: &mut FieldErrors) -> Self {
        let limit = match limit {
            None => DEFAULT_PAGE_SIZE,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
                _ => {
                    errors.add(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                    );
                    DEFAULT_PAGE_SIZE
                }
            },
        };
        let cursor = cursor.filter(|c| !c.is_empty());
        Self { limit, cursor }
    }
}

/// One page of a list, in the SPEC's `{items, nextCursor}` shape.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}
