use std::collections::BTreeMap;

/// Bad fields of one input, by JSON field name, each with a message a client can show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    /// Parses one field, recording its error under `field`; `None` when it was bad.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        parsed: Result<T, E>,
    ) -> Option<T> {
        parsed
            .map_err(|error| self.add(field, error.to_string()))
            .ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// `Ok(value)` when no field was bad, else the collected errors.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, DomainError> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(DomainError::Validation(self))
        }
    }
}

/// What a use case can refuse; the HTTP layer maps each to the SPEC error body in one place.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("authentication required or failed")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a storage, bus or mail adapter can report, whatever the technology behind it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness claim (an email, an idempotency key) is already held.
    #[error("already exists")]
    AlreadyExists,
    /// A conditional write lost a race: the item changed since it was read.
    #[error("the item changed concurrently")]
    VersionConflict,
    #[error("not found")]
    NotFound,
    /// A conditional stock decrement found too few units; nothing was changed.
    #[error("insufficient stock")]
    InsufficientStock,
    /// A pagination cursor that this adapter did not issue.
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("{context}: {source}")]
    Backend {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    pub fn backend(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Backend {
            context,
            source: Box::new(source),
        }
    }
}
