//! Checkout's rules: delivery date.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::DomainError;
use crate::values::InvalidValue;

/// Asia/Kolkata is UTC+05:30 all year (India keeps no daylight saving time), so a fixed
/// offset is exact and needs no time-zone database.
pub const PLATFORM_UTC_OFFSET_SECS: i32 = 5 * 3600 + 30 * 60;
/// The latest delivery date is today plus this many days (in the platform's time zone).
pub const MAX_DAYS_AHEAD: u64 = 30;

/// The platform's time zone, Asia/Kolkata.
pub fn platform_zone() -> FixedOffset {
    FixedOffset::east_opt(PLATFORM_UTC_OFFSET_SECS).expect("an offset within a day")
}

/// Today's date where the customers are: 18:40 UTC is already tomorrow in India.
pub fn platform_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&platform_zone()).date_naive()
}

/// A delivery date must be after today (the morning round of today is already out) and at
/// most [`MAX_DAYS_AHEAD`] days ahead, both in the platform's time zone.
pub fn check_delivery_date(date: NaiveDate, now: DateTime<Utc>) -> Result<NaiveDate, InvalidValue> {
    let today = platform_today(now);
    if date <= today {
        return Err(InvalidValue("must be after today (Asia/Kolkata)"));
    }
    let latest = today
        .checked_add_days(chrono::Days::new(MAX_DAYS_AHEAD))
        .expect("30 days from a real date is a real date");
    if date > latest {
        return Err(InvalidValue("must be at most 30 days ahead"));
    }
    Ok(date)
}

/// What the OpenAPI document says a date is: `YYYY-MM-DD`, month 01–12, day 01–31.
pub const DATE_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// Whether `raw` is a date as [`DATE_PATTERN`] spells one.
fn well_formed(raw: &str) -> bool {
    let b = raw.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let number = |r: std::ops::Range<usize>| raw[r].parse::<u32>().unwrap_or(0);
    b.len() == 10
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (1..=12).contains(&number(5..7))
        && (1..=31).contains(&number(8..10))
}

/// Whether `raw` is spelled as [`DATE_PATTERN`] allows but is no day of the calendar
/// (2030-02-30): no schema says how many days a month has, so a client generated from the
/// document may send one, and it is answered as a date that has nothing (404) or a conflict
/// (409), not as a malformed field (400).
pub fn not_a_calendar_day(raw: &str) -> bool {
    well_formed(raw) && parse_date(raw).is_err()
}

/// Dates well-formed but not in the calendar (2030-02-30) are a conflict (409), not a bad
/// field: no schema says how many days a month has. A malformed one is left to the field
/// check (400).
pub fn calendar_days(raws: &[Option<&str>]) -> Result<(), DomainError> {
    for raw in raws.iter().flatten() {
        if not_a_calendar_day(raw) {
            return Err(DomainError::conflict(format!(
                "{raw} is not a day of the calendar."
            )));
        }
    }
    Ok(())
}

/// A calendar date as sent: exactly `YYYY-MM-DD`.
pub fn parse_date(raw: &str) -> Result<NaiveDate, InvalidValue> {
    (raw.len() == 10)
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten()
        .ok_or(InvalidValue("must be a date as YYYY-MM-DD"))
}

/// `deliveryDate` as sent: exactly `YYYY-MM-DD`, then [`check_delivery_date`].
pub fn parse_delivery_date(raw: &str, now: DateTime<Utc>) -> Result<NaiveDate, InvalidValue> {
    check_delivery_date(parse_date(raw)?, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkout::test_support::utc;

    fn date(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, m, d).unwrap()
    }

    #[test]
    fn today_is_the_date_in_india() {
        assert_eq!(platform_today(utc(10, 18, 29)), date(3, 10), "23:59 IST");
        assert_eq!(platform_today(utc(10, 18, 30)), date(3, 11), "00:00 IST");
        assert_eq!(platform_today(utc(10, 18, 40)), date(3, 11), "00:10 IST");
        assert_eq!(platform_today(utc(10, 0, 0)), date(3, 10), "05:30 IST");
    }

    #[test]
    fn the_date_must_be_after_today_in_india() {
        let before_midnight = utc(10, 18, 29);
        assert!(check_delivery_date(date(3, 10), before_midnight).is_err());
        assert_eq!(
            check_delivery_date(date(3, 11), before_midnight),
            Ok(date(3, 11))
        );
        let after_midnight = utc(10, 18, 40);
        assert!(
            check_delivery_date(date(3, 11), after_midnight).is_err(),
            "already today in India, though still the 10th in UTC"
        );
        assert!(check_delivery_date(date(3, 12), after_midnight).is_ok());
        assert!(check_delivery_date(date(3, 1), after_midnight).is_err());
    }

    #[test]
    fn the_date_may_be_at_most_thirty_days_ahead() {
        let now = utc(10, 18, 40);
        assert!(check_delivery_date(date(4, 10), now).is_ok(), "today + 30");
        assert_eq!(
            check_delivery_date(date(4, 11), now),
            Err(InvalidValue("must be at most 30 days ahead"))
        );
        let earlier = utc(10, 18, 29);
        assert!(check_delivery_date(date(4, 9), earlier).is_ok());
        assert!(check_delivery_date(date(4, 10), earlier).is_err());
    }

    #[test]
    fn the_date_is_sent_as_yyyy_mm_dd() {
        let now = utc(10, 12, 0);
        assert_eq!(parse_delivery_date("2025-03-12", now), Ok(date(3, 12)));
        for bad in [
            "2025-3-12",
            "12-03-2025",
            "2025-03-12T00:00:00Z",
            "2025-02-30",
            "",
            " 2025-03-12",
        ] {
            assert_eq!(
                parse_delivery_date(bad, now),
                Err(InvalidValue("must be a date as YYYY-MM-DD")),
                "{bad:?}"
            );
        }
    }
}
