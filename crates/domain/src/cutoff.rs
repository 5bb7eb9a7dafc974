//! The cut-off: what customers change for a delivery date D closes at D−1's cut-off time,
//! in the platform's time zone. The vendor's round for D is planned from then on.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::checkout::{platform_today, platform_zone};
use crate::values::InvalidValue;

/// A vendor's cut-off, `HH:MM` in the platform's time zone, 12:00 to 22:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CutoffTime(NaiveTime);

impl CutoffTime {
    /// `21:00`: the evening before, as most dairies publish it.
    pub const DEFAULT: Self = Self(NaiveTime::from_hms_opt(21, 0, 0).expect("a time"));
    const EARLIEST: NaiveTime = NaiveTime::from_hms_opt(12, 0, 0).expect("a time");
    const LATEST: NaiveTime = NaiveTime::from_hms_opt(22, 0, 0).expect("a time");
    /// The published rule, for error messages and the OpenAPI pattern.
    pub const RULE: &str = "must be HH:MM between 12:00 and 22:00";
    pub const PATTERN: &str = "^(1[2-9]|2[0-1]):[0-5][0-9]$|^22:00$";

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let time = (raw.len() == 5)
            .then(|| NaiveTime::parse_from_str(raw, "%H:%M").ok())
            .flatten()
            .ok_or(InvalidValue(Self::RULE))?;
        (Self::EARLIEST..=Self::LATEST)
            .contains(&time)
            .then_some(Self(time))
            .ok_or(InvalidValue(Self::RULE))
    }

    /// The instant changes for `date` close: the day before, at this time.
    pub fn closes(self, date: NaiveDate) -> DateTime<Utc> {
        let eve = date.pred_opt().unwrap_or(date);
        eve.and_time(self.0)
            .and_local_timezone(platform_zone())
            .single()
            .expect("a fixed offset maps every local time once")
            .with_timezone(&Utc)
    }

    /// Whether a change for `date` may still be made at `now`.
    pub fn is_open(self, date: NaiveDate, now: DateTime<Utc>) -> bool {
        now < self.closes(date)
    }

    /// The first date a change made at `now` can still apply to.
    pub fn next_open_date(self, now: DateTime<Utc>) -> NaiveDate {
        let tomorrow = platform_today(now) + TimeDelta::days(1);
        if self.is_open(tomorrow, now) {
            tomorrow
        } else {
            tomorrow + TimeDelta::days(1)
        }
    }

    /// Refuses a change for `date` after its cut-off, naming the first date still open.
    pub fn check(self, date: NaiveDate, now: DateTime<Utc>) -> Result<(), CutoffPassed> {
        if self.is_open(date, now) {
            Ok(())
        } else {
            Err(CutoffPassed {
                date,
                next_date: self.next_open_date(now),
            })
        }
    }
}

impl Default for CutoffTime {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for CutoffTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

impl FromStr for CutoffTime {
    type Err = InvalidValue;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl Serialize for CutoffTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CutoffTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(|e| serde::de::Error::custom(e.0))
    }
}

/// A change for `date` came after its cut-off; `next_date` is the first date still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutoffPassed {
    pub date: NaiveDate,
    pub next_date: NaiveDate,
}

impl From<CutoffPassed> for crate::DomainError {
    fn from(passed: CutoffPassed) -> Self {
        Self::RefusedWith {
            code: crate::ErrorCode::CutoffPassed,
            message: format!(
                "Changes for {} closed at its cut-off; the first date still open is {}.",
                passed.date, passed.next_date
            )
            .into(),
            details: serde_json::json!({ "date": passed.date, "nextDate": passed.next_date }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, m, d).unwrap()
    }

    /// `h:m:s` IST on 2027-`m`-`d`, as UTC.
    fn ist(m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        date(m, d)
            .and_hms_opt(h, min, s)
            .unwrap()
            .and_local_timezone(platform_zone())
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn changes_for_a_date_close_at_the_eves_cutoff_to_the_second() {
        let cutoff = CutoffTime::DEFAULT;
        let d = date(1, 10);
        assert_eq!(cutoff.check(d, ist(1, 9, 20, 59, 59)), Ok(()));
        assert_eq!(
            cutoff.check(d, ist(1, 9, 21, 0, 0)),
            Err(CutoffPassed {
                date: d,
                next_date: date(1, 11)
            })
        );
        assert_eq!(cutoff.closes(d), ist(1, 9, 21, 0, 0));
        assert_eq!(
            cutoff.closes(d).to_rfc3339(),
            "2027-01-09T15:30:00+00:00",
            "21:00 IST is 15:30 UTC"
        );
    }

    #[test]
    fn the_next_open_date_is_tomorrow_before_the_cutoff_and_the_day_after_from_it() {
        let cutoff = CutoffTime::parse("19:30").unwrap();
        assert_eq!(cutoff.next_open_date(ist(1, 9, 19, 29, 59)), date(1, 10));
        assert_eq!(cutoff.next_open_date(ist(1, 9, 19, 30, 0)), date(1, 11));
        // after midnight IST (still the evening before in UTC), tomorrow is open again
        assert_eq!(cutoff.next_open_date(ist(1, 10, 0, 5, 0)), date(1, 11));
        // a change for a later date is open whatever the hour
        assert_eq!(cutoff.check(date(1, 12), ist(1, 9, 23, 0, 0)), Ok(()));
    }

    #[test]
    fn a_cutoff_is_hh_mm_between_noon_and_ten_at_night() {
        for ok in ["12:00", "21:00", "21:59", "22:00"] {
            assert_eq!(CutoffTime::parse(ok).unwrap().to_string(), ok);
        }
        for bad in ["11:59", "22:01", "9:00", "21:00:00", "24:00", "", "ab:cd"] {
            assert!(CutoffTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_pattern_says_what_the_parser_accepts_for_every_minute_of_the_day() {
        let pattern = regex::Regex::new(CutoffTime::PATTERN).unwrap();
        for minute in 0..24 * 60 {
            let raw = format!("{:02}:{:02}", minute / 60, minute % 60);
            assert_eq!(
                pattern.is_match(&raw),
                CutoffTime::parse(&raw).is_ok(),
                "{raw}"
            );
        }
    }
}
