//! Dates of windows: the calendar date of an instant in a time zone (`date_of` window columns,
//! e.g. a trading session's date in New York).

use chrono::{Datelike, NaiveDate, Offset, TimeZone};
use chrono_tz::Tz;

use crate::time::{MS_PER_DAY, days_from_civil};

/// Maps instants to trading-session dates in one time zone, remembering the last day it saw:
/// consecutive windows mostly fall on the same date, so most lookups are two comparisons.
#[derive(Debug, Clone)]
pub struct SessionCalendar {
    tz: Tz,
    /// `[start, end)` in epoch ms of the last local day looked up, and its date.
    cached: Option<(i64, i64, NaiveDate)>,
}

impl SessionCalendar {
    pub fn new(tz: Tz) -> Self {
        Self { tz, cached: None }
    }

    /// The local calendar date of the instant `ms` (epoch milliseconds).
    pub fn session_date(&mut self, ms: i64) -> NaiveDate {
        if let Some((start, end, date)) = self.cached
            && (start..end).contains(&ms)
        {
            return date;
        }
        let offset_ms = |at_ms: i64| {
            let utc = chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
            i64::from(
                self.tz
                    .offset_from_utc_datetime(&utc.naive_utc())
                    .fix()
                    .local_minus_utc(),
            ) * 1_000
        };
        let local_days = (ms + offset_ms(ms)).div_euclid(MS_PER_DAY);
        let date = NaiveDate::from_num_days_from_ce_opt(
            i32::try_from(local_days + 719_163).unwrap_or(i32::MAX),
        )
        .unwrap_or_default();
        // The day's bounds in UTC, with the offsets in force at each end (a DST change moves them).
        let midnight =
            days_from_civil(i64::from(date.year()), date.month(), date.day()) * MS_PER_DAY;
        let start = midnight - offset_ms(midnight);
        let end = midnight + MS_PER_DAY - offset_ms(midnight + MS_PER_DAY);
        if (start..end).contains(&ms) {
            self.cached = Some((start, end, date));
        }
        date
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339_millis;
    use proptest::prelude::*;

    fn at(text: &str) -> i64 {
        parse_rfc3339_millis(text).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn session_date_follows_new_york_across_midnight_and_dst() {
        let mut cal = SessionCalendar::new(chrono_tz::America::New_York);
        // 03:59Z is still the previous evening in New York (UTC−5 in winter)...
        assert_eq!(
            cal.session_date(at("2026-11-21T04:59:59.999Z")),
            date(2026, 11, 20)
        );
        assert_eq!(
            cal.session_date(at("2026-11-21T05:00:00Z")),
            date(2026, 11, 21)
        );
        // ...and UTC−4 in summer.
        assert_eq!(
            cal.session_date(at("2026-07-01T03:59:59.999Z")),
            date(2026, 6, 30)
        );
        assert_eq!(
            cal.session_date(at("2026-07-01T04:00:00Z")),
            date(2026, 7, 1)
        );
        // The DST change day (2026-03-08) is 23 hours long.
        assert_eq!(
            cal.session_date(at("2026-03-08T05:00:00Z")),
            date(2026, 3, 8)
        );
        assert_eq!(
            cal.session_date(at("2026-03-09T03:59:59Z")),
            date(2026, 3, 8)
        );
        assert_eq!(
            cal.session_date(at("2026-03-09T04:00:00Z")),
            date(2026, 3, 9)
        );
    }

    proptest! {
        #[test]
        fn cached_lookups_match_chrono(start in 1_600_000_000_000i64..1_900_000_000_000, steps in proptest::collection::vec(0i64..7_200_000, 1..50)) {
            let tz = chrono_tz::America::New_York;
            let mut cal = SessionCalendar::new(tz);
            let mut ms = start;
            for step in steps {
                ms += step;
                let want = chrono::DateTime::from_timestamp_millis(ms).unwrap().with_timezone(&tz).date_naive();
                prop_assert_eq!(cal.session_date(ms), want);
            }
        }
    }
}
