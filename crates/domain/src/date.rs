//! Calendar dates without a time zone: birth dates, "today" (passed in).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    y: i32,
    m: u8,
    d: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("日期不对（应为 YYYY-MM-DD，如 2022-04-08）：{0} / not a date (YYYY-MM-DD, e.g. 2022-04-08): {0}")]
pub struct DateError(pub String);

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// 1970-01-01.
    pub const EPOCH: Date = Date {
        y: 1970,
        m: 1,
        d: 1,
    };

    pub fn new(y: i32, m: u8, d: u8) -> Option<Date> {
        ((1800..=2200).contains(&y) && (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m))
            .then_some(Date { y, m, d })
    }
    pub fn year(self) -> i32 {
        self.y
    }
    pub fn month(self) -> u8 {
        self.m
    }
    pub fn day(self) -> u8 {
        self.d
    }

    /// Days since 1970-01-01 (negative before).
    pub fn to_days(self) -> i64 {
        // Shift the year so it starts in March: the leap day is the year's last.
        let y = i64::from(self.y) - i64::from(self.m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (i64::from(self.m) + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(self.d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub fn from_days(days: i64) -> Option<Date> {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let y = yoe + era * 400 + i64::from(m <= 2);
        Date::new(i32::try_from(y).ok()?, m, d)
    }

    /// The date of a Unix timestamp in milliseconds, in China Standard Time (UTC+8).
    pub fn from_unix_ms_cst(ms: i64) -> Option<Date> {
        Date::from_days((ms + 8 * 3_600_000).div_euclid(86_400_000))
    }

    /// Midnight at the start of this day in China Standard Time, as Unix milliseconds.
    pub fn start_ms_cst(self) -> i64 {
        self.to_days() * 86_400_000 - 8 * 3_600_000
    }

    /// Whole years completed on `today`.
    pub fn age_on(self, today: Date) -> i32 {
        let mut age = today.y - self.y;
        if (today.m, today.d) < (self.m, self.d) {
            age -= 1;
        }
        age.max(0)
    }

    /// `20220318`, `2022-03-18`, `2022/3/18`, `2022.3.18`, `2022年3月18日`.
    pub fn parse(s: &str) -> Result<Date, DateError> {
        let t = crate::text::squeeze(s);
        let err = || DateError(s.to_string());
        if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
            let y = t[0..4].parse().map_err(|_| err())?;
            let m = t[4..6].parse().map_err(|_| err())?;
            let d = t[6..8].parse().map_err(|_| err())?;
            return Date::new(y, m, d).ok_or_else(err);
        }
        let parts: Vec<&str> = t
            .split(['-', '/', '.', '年', '月', '日'])
            .filter(|p| !p.is_empty())
            .collect();
        if let [y, m, d] = parts.as_slice() {
            let y = y.parse().map_err(|_| err())?;
            let m = m.parse().map_err(|_| err())?;
            let d = d.parse().map_err(|_| err())?;
            return Date::new(y, m, d).ok_or_else(err);
        }
        Err(err())
    }

    /// Excel's serial day number (1900 date system, with its 1900-02-29 bug).
    pub fn from_excel_serial(serial: f64) -> Option<Date> {
        if !(1.0..=120_000.0).contains(&serial) {
            return None;
        }
        // Serial 25569 is 1970-01-01.
        Date::from_days(serial.floor() as i64 - 25_569)
    }
}

/// A minute in China Standard Time → Unix milliseconds: `2026-11-23 06:00`,
/// `2026-11-23T06:00` (an HTML `datetime-local` value, seconds allowed) or a
/// date alone (midnight).
pub fn parse_minute_cst(s: &str) -> Result<i64, DateError> {
    let s = s.trim();
    let err = || DateError(s.to_string());
    let (day, time) = s.split_once([' ', 'T']).unwrap_or((s, "00:00"));
    let date = Date::parse(day)?;
    let mut parts = time.trim().split(':');
    let mut num = |max: i64| -> Result<Option<i64>, DateError> {
        match parts.next() {
            None => Ok(None),
            Some(p) => match p.parse::<i64>() {
                Ok(n) if (0..max).contains(&n) && !p.is_empty() && p.len() <= 2 => Ok(Some(n)),
                _ => Err(err()),
            },
        }
    };
    let (Some(h), Some(m)) = (num(24)?, num(60)?) else {
        return Err(err());
    };
    num(60)?;
    if parts.next().is_some() {
        return Err(err());
    }
    Ok(date.start_ms_cst() + (h * 60 + m) * 60_000)
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.y, self.m, self.d)
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_in_china_time() {
        let day = Date::new(2026, 11, 23).unwrap().start_ms_cst();
        let six = day + 6 * 3_600_000;
        assert_eq!(parse_minute_cst("2026-11-23 06:00"), Ok(six));
        assert_eq!(parse_minute_cst("2026-11-23T06:00"), Ok(six));
        assert_eq!(parse_minute_cst("2026-11-23T06:00:00"), Ok(six));
        assert_eq!(parse_minute_cst(" 2026-11-23 "), Ok(day));
        // 06:00 in Beijing is 22:00 UTC the day before.
        assert_eq!(six % 86_400_000, 22 * 3_600_000);
        for bad in [
            "",
            "2026-11-23T24:00",
            "2026-11-23T06",
            "2026-11-23T06:60",
            "2026-13-01T06:00",
            "2026-11-23T6:00:00:00",
            "tomorrow",
        ] {
            assert!(parse_minute_cst(bad).is_err(), "{bad}");
        }
    }
    #[test]
    fn days_round_trip() {
        for days in -60_000..60_000 {
            let d = Date::from_days(days).unwrap();
            assert_eq!(d.to_days(), days);
        }
        assert_eq!(Date::new(1970, 1, 1).unwrap().to_days(), 0);
        assert_eq!(Date::new(2022, 3, 18).unwrap().to_days(), 19069);
    }
    #[test]
    fn validation_and_parsing() {
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2022, 13, 1).is_none());
        let d = Date::new(2022, 3, 18).unwrap();
        for s in [
            "20220318",
            "2022-03-18",
            "2022/3/18",
            "2022.3.18",
            "2022年3月18日",
            "２０２２－０３－１８",
        ] {
            assert_eq!(Date::parse(s).unwrap(), d, "{s}");
        }
        assert!(Date::parse("2022-02-30").is_err());
        assert!(Date::parse("yesterday").is_err());
        assert_eq!(d.to_string(), "2022-03-18");
    }
    #[test]
    fn ages_and_excel() {
        let born = Date::new(1950, 3, 19).unwrap();
        assert_eq!(born.age_on(Date::new(2022, 3, 18).unwrap()), 71);
        assert_eq!(born.age_on(Date::new(2022, 3, 19).unwrap()), 72);
        assert_eq!(Date::from_excel_serial(44638.0), Date::new(2022, 3, 18));
        assert_eq!(Date::from_excel_serial(-3.0), None);
        // 2022-03-18 00:30 in Changchun is still 2022-03-17 in UTC.
        assert_eq!(
            Date::from_unix_ms_cst(1_647_534_600_000),
            Date::new(2022, 3, 18)
        );
    }
}
