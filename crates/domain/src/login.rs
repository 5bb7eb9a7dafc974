//! Brute-force control for logins: failed attempts are counted per account and per client
//! in fixed windows; past the limit, logins answer 429 until the window ends.

use chrono::{DateTime, Utc};

/// Failed logins one account may have in a window before it is refused for the rest of it.
pub const MAX_FAILURES_PER_ACCOUNT: u32 = 10;
/// Failed logins one client (IP) may have in a window: higher, since many people can share
/// one address (an office, a carrier's NAT).
pub const MAX_FAILURES_PER_CLIENT: u32 = 50;
/// The window: 15 minutes.
pub const WINDOW_SECS: i64 = 15 * 60;

/// A fixed window of time failed logins are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginWindow {
    /// Epoch seconds, inclusive.
    pub start: i64,
    /// Epoch seconds, exclusive.
    pub end: i64,
}

impl LoginWindow {
    pub fn at(now: DateTime<Utc>) -> Self {
        let start = now.timestamp() - now.timestamp().rem_euclid(WINDOW_SECS);
        Self {
            start,
            end: start + WINDOW_SECS,
        }
    }

    /// Seconds from `now` until the window ends (at least 1).
    pub fn retry_after(&self, now: DateTime<Utc>) -> u64 {
        (self.end - now.timestamp()).max(1) as u64
    }
}

/// Who failed: counted separately, each with its own limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempter {
    /// The (normalized) email tried, whether or not an account has it.
    Account(String),
    /// The client's IP address.
    Client(String),
}

impl Attempter {
    pub fn key(&self) -> String {
        match self {
            Attempter::Account(email) => format!("account:{email}"),
            Attempter::Client(ip) => format!("client:{ip}"),
        }
    }

    pub fn limit(&self) -> u32 {
        match self {
            Attempter::Account(_) => MAX_FAILURES_PER_ACCOUNT,
            Attempter::Client(_) => MAX_FAILURES_PER_CLIENT,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn windows_are_fixed_fifteen_minute_slots() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 7, 30).unwrap();
        let window = LoginWindow::at(now);
        assert_eq!(
            window.start,
            Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
                .unwrap()
                .timestamp()
        );
        assert_eq!(window.end - window.start, WINDOW_SECS);
        assert_eq!(window.retry_after(now), 7 * 60 + 30);
        assert_eq!(Attempter::Account("a@b.co".into()).limit(), 10);
        assert_ne!(
            Attempter::Account("x".into()).key(),
            Attempter::Client("x".into()).key()
        );
    }
}
