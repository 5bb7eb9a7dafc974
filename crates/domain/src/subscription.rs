//! Subscriptions: which days a subscription delivers, and why a day does not.
//!
//! One pure rule, [`due_on`], decides a (subscription, date): the calendar the customer
//! sees and the nightly run that places the orders both ask it, so they cannot disagree.
//! A day change and a vacation are kept apart from the schedule, so editing the
//! subscription (its frequency, say) never drops them.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::lifecycle::Lifecycle;
use crate::values::{AddressLabel, DeliverySlot, InvalidValue, PaymentMethod, closed_set};

closed_set!(
    /// How often a subscription delivers.
    Frequency { Daily => "DAILY", Alternate => "ALTERNATE", Weekly => "WEEKLY", Custom => "CUSTOM" }
    "must be one of DAILY, ALTERNATE, WEEKLY, CUSTOM"
);

closed_set!(
    /// A day of the week as the API spells it (a CUSTOM subscription's `daysOfWeek`).
    DayOfWeek { Mon => "MON", Tue => "TUE", Wed => "WED", Thu => "THU", Fri => "FRI", Sat => "SAT", Sun => "SUN" }
    "must be one of MON, TUE, WED, THU, FRI, SAT, SUN"
);

impl DayOfWeek {
    /// The day `date` falls on.
    pub fn of(date: NaiveDate) -> Self {
        Self::ALL[date.weekday().num_days_from_monday() as usize]
    }
}

closed_set!(
    /// Where a subscription is in its life.
    SubscriptionStatus { Active => "ACTIVE", Paused => "PAUSED", Cancelled => "CANCELLED" }
    "must be one of ACTIVE, PAUSED, CANCELLED"
);

closed_set!(
    /// Why a subscription brings nothing on a day, as the calendar names it.
    SkipReason {
        NotStarted => "NOT_STARTED", Ended => "ENDED", Cancelled => "CANCELLED",
        NotScheduled => "NOT_SCHEDULED", Paused => "PAUSED", Vacation => "VACATION",
        Skipped => "SKIPPED",
    }
    "must be one of NOT_STARTED, ENDED, CANCELLED, NOT_SCHEDULED, PAUSED, VACATION, SKIPPED"
);

/// One day's quantity in place of the usual; 0 skips the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayChange {
    pub date: NaiveDate,
    pub quantity: u32,
}

/// The days a customer is away (both ends included): every subscription of theirs holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Vacation {
    pub from: NaiveDate,
    pub until: NaiveDate,
}

impl Vacation {
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.until
    }
}

/// What of a subscription decides its days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub quantity: u32,
    pub frequency: Frequency,
    /// `CUSTOM` only.
    pub days_of_week: Vec<DayOfWeek>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub status: SubscriptionStatus,
    /// A PAUSED subscription holds from this date (none: at once). A pause asked for after
    /// a date's cut-off starts on the first date still open, so the run keeps the day it
    /// had already planned.
    pub paused_from: Option<NaiveDate>,
    /// A PAUSED subscription delivers again from this date (none: until resumed).
    pub paused_until: Option<NaiveDate>,
    pub day_changes: Vec<DayChange>,
}

/// What a subscription brings on one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Deliver { quantity: u32 },
    Skip(SkipReason),
}

/// Whether `schedule` delivers on `date`, given the customer's vacation, and if not, why.
///
/// The reasons are tried in a fixed order, so a day has exactly one: a cancelled or not yet
/// (or no longer) running subscription says so first; then a day its frequency does not
/// fall on; then a pause, a vacation, and a day changed to 0. A day change replaces the
/// quantity only on a day the schedule delivers.
pub fn due_on(schedule: &Schedule, vacation: Option<&Vacation>, date: NaiveDate) -> Due {
    let skip = if schedule.status == SubscriptionStatus::Cancelled {
        Some(SkipReason::Cancelled)
    } else if date < schedule.start_date {
        Some(SkipReason::NotStarted)
    } else if schedule.end_date.is_some_and(|end| date > end) {
        Some(SkipReason::Ended)
    } else if !falls_on(schedule, date) {
        Some(SkipReason::NotScheduled)
    } else if is_paused_on(schedule, date) {
        Some(SkipReason::Paused)
    } else if vacation.is_some_and(|v| v.covers(date)) {
        Some(SkipReason::Vacation)
    } else {
        None
    };
    if let Some(reason) = skip {
        return Due::Skip(reason);
    }
    match day_quantity(schedule, date) {
        0 => Due::Skip(SkipReason::Skipped),
        quantity => Due::Deliver { quantity },
    }
}

/// Whether the frequency delivers on `date` (from startDate on).
fn falls_on(schedule: &Schedule, date: NaiveDate) -> bool {
    match schedule.frequency {
        Frequency::Daily => true,
        Frequency::Alternate => (date - schedule.start_date).num_days() % 2 == 0,
        Frequency::Weekly => date.weekday() == schedule.start_date.weekday(),
        Frequency::Custom => schedule.days_of_week.contains(&DayOfWeek::of(date)),
    }
}

/// A pause holds from `pausedFrom` until `pausedUntil` (that day delivers again), or for
/// good without one.
fn is_paused_on(schedule: &Schedule, date: NaiveDate) -> bool {
    schedule.status == SubscriptionStatus::Paused
        && schedule.paused_from.is_none_or(|from| date >= from)
        && schedule.paused_until.is_none_or(|until| date < until)
}

/// The day's quantity: its day change where there is one, else the usual.
fn day_quantity(schedule: &Schedule, date: NaiveDate) -> u32 {
    schedule
        .day_changes
        .iter()
        .find(|change| change.date == date)
        .map_or(schedule.quantity, |change| change.quantity)
}

/// A subscription moves between ACTIVE and PAUSED as often as its customer likes, and ends
/// CANCELLED for good.
impl Lifecycle for SubscriptionStatus {
    const ENTITY: &'static str = "A subscription";
    const STATUSES: &'static [Self] = &Self::ALL;

    fn can_become(self, to: Self) -> bool {
        use SubscriptionStatus::*;
        matches!(
            (self, to),
            (Active, Paused | Cancelled) | (Paused, Active | Cancelled)
        )
    }
}

/// The run's index is spread over this many partitions, so that 100,000 live
/// subscriptions are read in parallel pages and no one partition takes every write.
pub const RUN_SHARDS: u32 = 16;

/// The run shard of a customer's subscriptions: from the customer's id, so that one
/// customer's day is planned from one shard (and never moves).
pub fn run_shard(user_id: Uuid) -> u32 {
    let bytes = user_id.as_bytes();
    // The id's last bytes are random in v4 and v7 alike.
    u32::from(bytes[15]) % RUN_SHARDS
}

/// A customer's standing order for one variant, as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub subscription_id: Uuid,
    pub user_id: Uuid,
    pub product_id: Uuid,
    pub variant_id: Uuid,
    /// 1 to 100 a delivery.
    pub quantity: u32,
    pub frequency: Frequency,
    /// `CUSTOM` only; empty otherwise.
    #[serde(default)]
    pub days_of_week: Vec<DayOfWeek>,
    pub start_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    pub delivery_slot: DeliverySlot,
    #[schema(value_type = String)]
    pub address_label: AddressLabel,
    /// `WALLET` or `COD`.
    pub payment_method: PaymentMethod,
    pub status: SubscriptionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<NaiveDate>,
    #[serde(default)]
    pub day_changes: Vec<DayChange>,
    /// The last delivery date the nightly run placed an order (or recorded a skip) for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_generated_for: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    #[schema(ignore)]
    pub version: u64,
}

impl Subscription {
    /// What decides its days, for [`due_on`].
    pub fn schedule(&self) -> Schedule {
        Schedule {
            quantity: self.quantity,
            frequency: self.frequency,
            days_of_week: self.days_of_week.clone(),
            start_date: self.start_date,
            end_date: self.end_date,
            status: self.status,
            paused_from: self.paused_from,
            paused_until: self.paused_until,
            day_changes: self.day_changes.clone(),
        }
    }

    /// The subscription as it stands on `today`: a pause whose `pausedUntil` has come is
    /// over (it resumed by itself).
    pub fn as_of(mut self, today: NaiveDate) -> Self {
        let resumed = self.status == SubscriptionStatus::Paused
            && self.paused_until.is_some_and(|until| until <= today);
        if resumed {
            self.status = SubscriptionStatus::Active;
            self.paused_from = None;
            self.paused_until = None;
        }
        self
    }

    /// Whether the nightly run still has anything to do with it on or after `date`: not
    /// cancelled and not past its end.
    pub fn is_live_on(&self, date: NaiveDate) -> bool {
        self.status != SubscriptionStatus::Cancelled && self.end_date.is_none_or(|end| date <= end)
    }

    /// Sets (or with `None` undoes) one day's quantity, keeping one change per date.
    pub fn change_day(&mut self, date: NaiveDate, quantity: Option<u32>) {
        self.day_changes.retain(|change| change.date != date);
        if let Some(quantity) = quantity {
            self.day_changes.push(DayChange { date, quantity });
            self.day_changes.sort_by_key(|change| change.date);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn daily(start: NaiveDate) -> Schedule {
        Schedule {
            quantity: 2,
            frequency: Frequency::Daily,
            days_of_week: vec![],
            start_date: start,
            end_date: None,
            status: SubscriptionStatus::Active,
            paused_from: None,
            paused_until: None,
            day_changes: vec![],
        }
    }

    #[test]
    fn a_daily_subscription_delivers_from_its_start_to_its_end_inclusive() {
        let schedule = Schedule {
            end_date: Some(date(2027, 1, 10)),
            ..daily(date(2027, 1, 5))
        };
        let on = |d| due_on(&schedule, None, d);
        assert_eq!(on(date(2027, 1, 4)), Due::Skip(SkipReason::NotStarted));
        assert_eq!(on(date(2027, 1, 5)), Due::Deliver { quantity: 2 });
        assert_eq!(on(date(2027, 1, 10)), Due::Deliver { quantity: 2 });
        assert_eq!(on(date(2027, 1, 11)), Due::Skip(SkipReason::Ended));
    }

    #[test]
    fn alternate_days_count_from_the_start_date_across_month_and_year_ends() {
        let schedule = Schedule {
            frequency: Frequency::Alternate,
            ..daily(date(2026, 12, 30))
        };
        let delivers = |d| matches!(due_on(&schedule, None, d), Due::Deliver { .. });
        assert!(delivers(date(2026, 12, 30)));
        assert!(!delivers(date(2026, 12, 31)));
        assert!(delivers(date(2027, 1, 1)));
        assert!(!delivers(date(2027, 3, 1)), "61 days on");
        assert!(delivers(date(2027, 3, 2)), "62 days on");
    }

    #[test]
    fn weekly_keeps_the_start_dates_weekday_and_custom_its_own_days() {
        let weekly = Schedule {
            frequency: Frequency::Weekly,
            ..daily(date(2027, 1, 7)) // a Thursday
        };
        assert_eq!(
            due_on(&weekly, None, date(2027, 1, 14)),
            Due::Deliver { quantity: 2 }
        );
        assert_eq!(
            due_on(&weekly, None, date(2027, 1, 15)),
            Due::Skip(SkipReason::NotScheduled)
        );
        let custom = Schedule {
            frequency: Frequency::Custom,
            days_of_week: vec![DayOfWeek::Mon, DayOfWeek::Thu],
            ..daily(date(2027, 1, 7))
        };
        let days: Vec<u32> = (7..=14)
            .filter(|d| {
                matches!(
                    due_on(&custom, None, date(2027, 1, *d)),
                    Due::Deliver { .. }
                )
            })
            .collect();
        assert_eq!(days, [7, 11, 14]);
    }

    #[test]
    fn a_pause_holds_until_its_date_which_delivers_again() {
        let schedule = Schedule {
            status: SubscriptionStatus::Paused,
            paused_until: Some(date(2027, 1, 9)),
            ..daily(date(2027, 1, 1))
        };
        assert_eq!(
            due_on(&schedule, None, date(2027, 1, 8)),
            Due::Skip(SkipReason::Paused)
        );
        assert_eq!(
            due_on(&schedule, None, date(2027, 1, 9)),
            Due::Deliver { quantity: 2 }
        );
        let later = Schedule {
            paused_from: Some(date(2027, 1, 5)),
            ..schedule.clone()
        };
        assert_eq!(
            due_on(&later, None, date(2027, 1, 4)),
            Due::Deliver { quantity: 2 },
            "the day before a pause asked for after its cut-off still comes"
        );
        assert_eq!(
            due_on(&later, None, date(2027, 1, 5)),
            Due::Skip(SkipReason::Paused)
        );
        let for_good = Schedule {
            paused_until: None,
            ..schedule
        };
        assert_eq!(
            due_on(&for_good, None, date(2028, 1, 1)),
            Due::Skip(SkipReason::Paused)
        );
    }

    #[test]
    fn a_vacation_holds_both_its_ends_and_a_day_change_sets_one_day() {
        let schedule = Schedule {
            day_changes: vec![
                DayChange {
                    date: date(2027, 1, 3),
                    quantity: 0,
                },
                DayChange {
                    date: date(2027, 1, 4),
                    quantity: 5,
                },
                DayChange {
                    date: date(2027, 1, 6),
                    quantity: 5,
                },
            ],
            ..daily(date(2027, 1, 1))
        };
        let vacation = Vacation {
            from: date(2027, 1, 6),
            until: date(2027, 1, 7),
        };
        let on = |d| due_on(&schedule, Some(&vacation), d);
        assert_eq!(on(date(2027, 1, 3)), Due::Skip(SkipReason::Skipped));
        assert_eq!(on(date(2027, 1, 4)), Due::Deliver { quantity: 5 });
        assert_eq!(on(date(2027, 1, 5)), Due::Deliver { quantity: 2 });
        assert_eq!(on(date(2027, 1, 6)), Due::Skip(SkipReason::Vacation));
        assert_eq!(on(date(2027, 1, 7)), Due::Skip(SkipReason::Vacation));
        assert_eq!(on(date(2027, 1, 8)), Due::Deliver { quantity: 2 });
    }

    #[test]
    fn a_cancelled_subscription_delivers_nothing_ever() {
        let schedule = Schedule {
            status: SubscriptionStatus::Cancelled,
            ..daily(date(2027, 1, 1))
        };
        assert_eq!(
            due_on(&schedule, None, date(2027, 1, 2)),
            Due::Skip(SkipReason::Cancelled)
        );
    }

    #[test]
    fn weekdays_parse_as_the_api_spells_them_and_name_the_dates_day() {
        assert_eq!(DayOfWeek::parse("THU"), Ok(DayOfWeek::Thu));
        assert!(DayOfWeek::parse("thu").is_err());
        assert!(DayOfWeek::parse("THURSDAY").is_err());
        assert_eq!(DayOfWeek::of(date(2027, 1, 7)), DayOfWeek::Thu);
        assert_eq!(DayOfWeek::of(date(2027, 1, 10)), DayOfWeek::Sun);
    }

    #[test]
    fn a_subscription_pauses_and_resumes_at_will_and_stays_cancelled() {
        use crate::lifecycle::transition;
        use SubscriptionStatus::*;
        assert!(transition(Active, Paused).is_ok());
        assert!(transition(Paused, Active).is_ok());
        assert!(transition(Paused, Cancelled).is_ok());
        assert!(Cancelled.is_final());
        let refused = transition(Cancelled, Active).unwrap_err().to_string();
        assert!(refused.contains("CANCELLED"), "{refused}");
    }

    #[test]
    fn a_day_change_replaces_the_days_earlier_one_and_can_be_undone() {
        let mut subscription = Subscription {
            subscription_id: Uuid::from_u128(1),
            user_id: Uuid::from_u128(2),
            product_id: Uuid::from_u128(3),
            variant_id: Uuid::from_u128(4),
            quantity: 2,
            frequency: Frequency::Daily,
            days_of_week: vec![],
            start_date: date(2027, 1, 1),
            end_date: None,
            delivery_slot: DeliverySlot::Morning,
            address_label: AddressLabel::parse("home").unwrap(),
            payment_method: PaymentMethod::Wallet,
            status: SubscriptionStatus::Active,
            paused_from: None,
            paused_until: None,
            day_changes: vec![],
            last_generated_for: None,
            created_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            updated_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            version: 0,
        };
        subscription.change_day(date(2027, 1, 5), Some(0));
        subscription.change_day(date(2027, 1, 3), Some(4));
        subscription.change_day(date(2027, 1, 5), Some(1));
        let on = |s: &Subscription, d| due_on(&s.schedule(), None, d);
        assert_eq!(subscription.day_changes.len(), 2);
        assert_eq!(
            on(&subscription, date(2027, 1, 5)),
            Due::Deliver { quantity: 1 }
        );
        subscription.change_day(date(2027, 1, 5), None);
        assert_eq!(
            on(&subscription, date(2027, 1, 5)),
            Due::Deliver { quantity: 2 }
        );
        assert_eq!(
            on(&subscription, date(2027, 1, 3)),
            Due::Deliver { quantity: 4 }
        );
        let json = serde_json::to_value(&subscription).unwrap();
        assert_eq!(json["dayChanges"][0]["date"], "2027-01-03");
        assert_eq!(json["paymentMethod"], "WALLET");
    }

    // --- the rule against a second, simpler reading of SPEC §6 ---

    /// SPEC §6 read literally, one question at a time, by walking the calendar from the
    /// start date instead of computing: slow, obvious, and written apart from `due_on`.
    fn reference(schedule: &Schedule, vacation: Option<&Vacation>, day: NaiveDate) -> Due {
        if schedule.status == SubscriptionStatus::Cancelled {
            return Due::Skip(SkipReason::Cancelled);
        }
        if day < schedule.start_date {
            return Due::Skip(SkipReason::NotStarted);
        }
        if let Some(end) = schedule.end_date
            && day > end
        {
            return Due::Skip(SkipReason::Ended);
        }
        // Walk from the start: every day for DAILY, every other for ALTERNATE, every
        // seventh for WEEKLY; CUSTOM by the weekday's name.
        let step = match schedule.frequency {
            Frequency::Daily => 1,
            Frequency::Alternate => 2,
            Frequency::Weekly => 7,
            Frequency::Custom => 0,
        };
        let scheduled = if step == 0 {
            let name = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
                [day.weekday().num_days_from_monday() as usize];
            schedule.days_of_week.iter().any(|d| d.as_str() == name)
        } else {
            let mut walk = schedule.start_date;
            while walk < day {
                walk += TimeDelta::days(step);
            }
            walk == day
        };
        if !scheduled {
            return Due::Skip(SkipReason::NotScheduled);
        }
        if schedule.status == SubscriptionStatus::Paused {
            let started = match schedule.paused_from {
                None => true,
                Some(from) => from <= day,
            };
            let over = match schedule.paused_until {
                None => false,
                Some(until) => until <= day,
            };
            if started && !over {
                return Due::Skip(SkipReason::Paused);
            }
        }
        if let Some(v) = vacation
            && v.from <= day
            && day <= v.until
        {
            return Due::Skip(SkipReason::Vacation);
        }
        let mut quantity = schedule.quantity;
        for change in &schedule.day_changes {
            if change.date == day {
                quantity = change.quantity;
            }
        }
        if quantity == 0 {
            Due::Skip(SkipReason::Skipped)
        } else {
            Due::Deliver { quantity }
        }
    }

    /// A small deterministic generator (xorshift), so the property test needs no crate and
    /// every run checks the same cases.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn day_in(&mut self, first: NaiveDate, days: u64) -> NaiveDate {
            first + TimeDelta::days(self.below(days) as i64)
        }

        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }

    fn arbitrary(random: &mut Random, year: NaiveDate) -> (Schedule, Option<Vacation>) {
        let start_date = random.day_in(year - TimeDelta::days(60), 400);
        let schedule = Schedule {
            quantity: 1 + random.below(100) as u32,
            frequency: Frequency::ALL[random.below(4) as usize],
            days_of_week: DayOfWeek::ALL
                .into_iter()
                .filter(|_| random.chance(40))
                .collect(),
            start_date,
            end_date: random.chance(50).then(|| random.day_in(start_date, 300)),
            status: SubscriptionStatus::ALL[random.below(3) as usize],
            paused_from: random.chance(50).then(|| random.day_in(year, 366)),
            paused_until: random.chance(70).then(|| random.day_in(year, 366)),
            day_changes: (0..random.below(12))
                .map(|_| DayChange {
                    date: random.day_in(year, 366),
                    quantity: [0, 0, 1, 3, 100][random.below(5) as usize],
                })
                .collect(),
        };
        let vacation = random.chance(60).then(|| {
            let from = random.day_in(year, 366);
            Vacation {
                from,
                until: random.day_in(from, 40),
            }
        });
        (schedule, vacation)
    }

    #[test]
    fn the_rule_agrees_with_the_reference_on_every_day_of_a_year_for_many_subscriptions() {
        let year = date(2027, 1, 1);
        let mut random = Random(0x5EED_CAFE_F00D_D00D);
        let mut delivered = 0;
        let mut reasons = std::collections::HashSet::new();
        for _ in 0..600 {
            let (mut schedule, vacation) = arbitrary(&mut random, year);
            // A day changed twice keeps one entry (the routes replace, never duplicate).
            schedule.day_changes.dedup_by_key(|c| c.date);
            let mut seen = std::collections::HashSet::new();
            schedule.day_changes.retain(|c| seen.insert(c.date));
            for offset in 0..366 {
                let day = year + TimeDelta::days(offset);
                let due = due_on(&schedule, vacation.as_ref(), day);
                assert_eq!(
                    due,
                    reference(&schedule, vacation.as_ref(), day),
                    "{schedule:?} {vacation:?} on {day}"
                );
                match due {
                    Due::Deliver { .. } => delivered += 1,
                    Due::Skip(reason) => _ = reasons.insert(reason),
                }
            }
        }
        assert!(
            delivered > 10_000,
            "the cases deliver often enough to mean something"
        );
        assert_eq!(reasons.len(), SkipReason::ALL.len(), "every reason was met");
    }
}
