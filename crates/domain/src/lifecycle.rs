//! What every status table shares: which moves it allows ([`Lifecycle`]), the refusal of
//! any other move ([`transition`]), the timeline entry a move leaves ([`StatusChange`]) and
//! the move itself on an entity that keeps its timeline ([`Tracked::move_to`]).
//!
//! A new status enum (a subscription's, a wallet's) implements [`Lifecycle`] with its
//! table; its entity implements [`Tracked`] by naming its status, timeline and `updatedAt`
//! fields, and gets `move_to`; [`crate::status_change_schema!`] gives its `StatusChange` a named
//! OpenAPI schema.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ErrorCode};

/// A closed set of statuses and the one table of moves between them.
pub trait Lifecycle: Copy + PartialEq + fmt::Display + Sized + 'static {
    /// What moves, as a sentence about it starts ("An order"), for the refusal's message.
    const ENTITY: &'static str;
    /// Every status (the closed set's `ALL`).
    const STATUSES: &'static [Self];

    /// Whether the table allows `self` → `to`. Staying put is not a move.
    fn can_become(self, to: Self) -> bool;

    /// No move leads out of it.
    fn is_final(self) -> bool {
        !Self::STATUSES.iter().any(|&to| self.can_become(to))
    }
}

/// `Ok` when the table allows `from` → `to`, else a 409 `INVALID_TRANSITION` naming both.
pub fn transition<S: Lifecycle>(from: S, to: S) -> Result<(), DomainError> {
    if from.can_become(to) {
        Ok(())
    } else {
        Err(DomainError::refused(
            ErrorCode::InvalidTransition,
            format!("{} cannot move from {from} to {to}.", S::ENTITY),
        ))
    }
}

/// One entry of a timeline: who moved it where, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange<S> {
    pub status: S,
    pub at: DateTime<Utc>,
    /// A userId, or the name of the step (or job) that moved it.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl<S> StatusChange<S> {
    /// The entry of a move (or of the first status) without a reason.
    pub fn new(status: S, by: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self {
            status,
            at,
            by: by.into(),
            reason: None,
        }
    }
}

/// The fields a move changes on an entity.
pub struct Timeline<'a, S> {
    pub status: &'a mut S,
    /// Oldest first.
    pub history: &'a mut Vec<StatusChange<S>>,
    pub updated_at: &'a mut DateTime<Utc>,
}

/// An entity that moves along a [`Lifecycle`] and keeps its timeline.
pub trait Tracked {
    type Status: Lifecycle;

    fn timeline(&mut self) -> Timeline<'_, Self::Status>;

    /// Moves along the table and records who did it and why; a move the table does not
    /// allow changes nothing. Whether the actor may make it is the caller's check.
    fn move_to(
        &mut self,
        to: Self::Status,
        by: impl Into<String>,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let timeline = self.timeline();
        transition(*timeline.status, to)?;
        *timeline.status = to;
        *timeline.updated_at = now;
        timeline.history.push(StatusChange {
            reason,
            ..StatusChange::new(to, by, now)
        });
        Ok(())
    }
}

/// The OpenAPI schema of `StatusChange<$status>`, under its own `$name` (so each table's
/// timeline entry names its own status enum): `status_change_schema!(OrderStatus,
/// "StatusChange", "what `by` says")`, with the schema's doc comments before the status.
#[macro_export]
macro_rules! status_change_schema {
    ($(#[$meta:meta])* $status:ident, $name:literal, $by:tt) => {
        const _: () = {
            use ::utoipa::{PartialSchema, ToSchema};

            $(#[$meta])*
            #[derive(ToSchema)]
            #[serde(rename_all = "camelCase")]
            #[allow(dead_code)]
            struct Shape {
                status: $status,
                at: ::chrono::DateTime<::chrono::Utc>,
                #[doc = $by]
                by: String,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                reason: Option<String>,
            }

            impl PartialSchema for $crate::lifecycle::StatusChange<$status> {
                fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                    <Shape as PartialSchema>::schema()
                }
            }

            impl ToSchema for $crate::lifecycle::StatusChange<$status> {
                fn name() -> ::std::borrow::Cow<'static, str> {
                    ::std::borrow::Cow::Borrowed($name)
                }

                fn schemas(
                    schemas: &mut Vec<(
                        String,
                        ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema>,
                    )>,
                ) {
                    <Shape as ToSchema>::schemas(schemas);
                }
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    /// A three-step table: A → B → C, and A → C.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    enum Step {
        A,
        B,
        C,
    }

    impl fmt::Display for Step {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl Lifecycle for Step {
        const ENTITY: &'static str = "A step";
        const STATUSES: &'static [Self] = &[Step::A, Step::B, Step::C];

        fn can_become(self, to: Self) -> bool {
            matches!(
                (self, to),
                (Step::A, Step::B | Step::C) | (Step::B, Step::C)
            )
        }
    }

    struct Thing {
        status: Step,
        history: Vec<StatusChange<Step>>,
        updated_at: DateTime<Utc>,
    }

    impl Tracked for Thing {
        type Status = Step;

        fn timeline(&mut self) -> Timeline<'_, Step> {
            Timeline {
                status: &mut self.status,
                history: &mut self.history,
                updated_at: &mut self.updated_at,
            }
        }
    }

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 10, 6, minute, 0).unwrap()
    }

    #[test]
    fn a_table_gives_its_refusals_and_its_final_statuses() {
        assert!(transition(Step::A, Step::B).is_ok());
        let refused = transition(Step::C, Step::A).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidTransition);
        assert_eq!(refused.to_string(), "A step cannot move from C to A.");
        assert!(transition(Step::B, Step::B).is_err(), "staying put");
        let finals: Vec<Step> = Step::STATUSES
            .iter()
            .copied()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, [Step::C]);
    }

    #[test]
    fn a_tracked_entity_moves_with_its_timeline_and_a_refused_move_changes_nothing() {
        let mut thing = Thing {
            status: Step::A,
            history: vec![StatusChange::new(Step::A, "maker", at(0))],
            updated_at: at(0),
        };
        thing
            .move_to(Step::B, "job", Some("due".into()), at(1))
            .unwrap();
        assert!(thing.move_to(Step::A, "job", None, at(2)).is_err());
        assert_eq!((thing.status, thing.updated_at), (Step::B, at(1)));
        assert_eq!(thing.history.len(), 2);
        let last = &thing.history[1];
        assert_eq!(
            serde_json::to_value(last).unwrap(),
            json!({"status": "B", "at": "2025-03-10T06:01:00Z", "by": "job", "reason": "due"})
        );
        let first = serde_json::to_value(&thing.history[0]).unwrap();
        assert!(first.get("reason").is_none(), "no reason, no field");
        let back: StatusChange<Step> = serde_json::from_value(first).unwrap();
        assert_eq!(back, thing.history[0]);
    }
}
