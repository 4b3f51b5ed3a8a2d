//! Time windows of policy rules: days of the week and an hours range `[start, end)` in an IANA
//! time zone. A range whose start is after its end wraps past midnight; the day is the local day
//! of the moment being checked.

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;

#[derive(Debug, Clone, PartialEq)]
pub struct TimeWindow {
    /// Bit `n` set: the day `n` days after Monday is in the window. `None`: every day.
    pub days: Option<u8>,
    pub hours: Option<Hours>,
    pub timezone: TimeZone,
}

/// Minutes after local midnight, `[start, end)`; `end` may be 1440 (`24:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub start: u16,
    pub end: u16,
}

impl Hours {
    pub fn contains(self, minute_of_day: u16) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&minute_of_day)
        } else {
            minute_of_day >= self.start || minute_of_day < self.end
        }
    }
}

/// A moment as a window sees it: the day and the minute of the day in the window's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMoment {
    pub day: Weekday,
    /// Minutes after local midnight, 0..1440.
    pub minute: u16,
}

impl TimeWindow {
    /// Whether `now` is inside the window: its local day is one of the days and its local minute
    /// within the hours.
    pub fn contains(&self, now: Timestamp) -> bool {
        let LocalMoment { day, minute } = self.local(now);
        self.day_holds(day) && self.hours_hold(minute)
    }

    /// `now` in the window's zone, to the minute (daylight saving followed).
    pub fn local(&self, now: Timestamp) -> LocalMoment {
        let local = now.to_zoned(self.timezone.clone());
        let minute = u16::try_from(local.hour()).unwrap_or(0) * 60 + u16::try_from(local.minute()).unwrap_or(0);
        LocalMoment { day: local.weekday(), minute }
    }

    /// Whether `day` is one of the window's days (every day without `days`).
    pub fn day_holds(&self, day: Weekday) -> bool {
        self.days.is_none_or(|days| days & day_bit(day) != 0)
    }

    /// Whether `minute` is within the window's hours (every minute without `hours`).
    pub fn hours_hold(&self, minute: u16) -> bool {
        self.hours.is_none_or(|hours| hours.contains(minute))
    }
}

/// Each day as a policy names it, Monday first.
const DAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Monday),
    ("tuesday", Weekday::Tuesday),
    ("wednesday", Weekday::Wednesday),
    ("thursday", Weekday::Thursday),
    ("friday", Weekday::Friday),
    ("saturday", Weekday::Saturday),
    ("sunday", Weekday::Sunday),
];

pub fn day_bit(day: Weekday) -> u8 {
    1 << day.to_monday_zero_offset()
}

/// `monday` … `sunday`, any case.
pub fn parse_day(name: &str) -> Option<Weekday> {
    DAYS.iter().find(|(day, _)| day.eq_ignore_ascii_case(name)).map(|&(_, day)| day)
}

/// The names of the days in a `days` mask, Monday first, as a policy writes them.
pub fn days_in(mask: u8) -> Vec<&'static str> {
    DAYS.iter().filter(|(_, day)| mask & day_bit(*day) != 0).map(|&(name, _)| name).collect()
}

/// `Monday` … `Sunday`: a day as a sentence names it.
pub fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}

/// `HH:MM` from `00:00` to `24:00`, in minutes after midnight.
pub fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 || !(hours.bytes().chain(minutes.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    let minute_of_day = hours * 60 + minutes;
    (minutes < 60 && minute_of_day <= 24 * 60).then_some(minute_of_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(days: &[Weekday], hours: Option<(&str, &str)>, zone: &str) -> TimeWindow {
        TimeWindow {
            days: (!days.is_empty()).then(|| days.iter().fold(0, |mask, day| mask | day_bit(*day))),
            hours: hours
                .map(|(start, end)| Hours { start: parse_clock(start).unwrap(), end: parse_clock(end).unwrap() }),
            timezone: TimeZone::get(zone).unwrap(),
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn business_hours_in_london_across_daylight_saving() {
        let weekdays = [Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday, Weekday::Friday];
        let business = window(&weekdays, Some(("08:00", "19:00")), "Europe/London");
        for (moment, inside) in [
            ("2026-01-14T08:00:00Z", true),  // Wednesday, GMT: 08:00 local
            ("2026-01-14T07:59:59Z", false), // 07:59 local
            ("2026-01-14T18:59:00Z", true),
            ("2026-01-14T19:00:00Z", false), // end is exclusive
            ("2026-07-15T07:30:00Z", true),  // BST: 08:30 local
            ("2026-07-15T18:30:00Z", false), // BST: 19:30 local
            ("2026-01-17T12:00:00Z", false), // Saturday
            ("2026-01-16T23:30:00Z", false), // Friday night
        ] {
            assert_eq!(business.contains(at(moment)), inside, "{moment}");
        }
    }

    #[test]
    fn a_window_that_wraps_midnight() {
        let night = window(&[], Some(("22:00", "06:00")), "UTC");
        for (moment, inside) in [
            ("2026-03-02T22:00:00Z", true),
            ("2026-03-02T23:59:00Z", true),
            ("2026-03-03T00:00:00Z", true),
            ("2026-03-03T05:59:00Z", true),
            ("2026-03-03T06:00:00Z", false),
            ("2026-03-03T12:00:00Z", false),
            ("2026-03-03T21:59:00Z", false),
        ] {
            assert_eq!(night.contains(at(moment)), inside, "{moment}");
        }
    }

    #[test]
    fn the_day_is_the_local_day_of_the_zone() {
        let tokyo_monday = window(&[Weekday::Monday], None, "Asia/Tokyo");
        assert!(tokyo_monday.contains(at("2026-03-01T20:00:00Z")), "Sunday 20:00 UTC is Monday 05:00 in Tokyo");
        assert!(!tokyo_monday.contains(at("2026-03-02T20:00:00Z")), "Monday 20:00 UTC is Tuesday in Tokyo");
    }

    #[test]
    fn clock_strings() {
        for (text, minutes) in [("00:00", Some(0)), ("08:30", Some(510)), ("23:59", Some(1439)), ("24:00", Some(1440))]
        {
            assert_eq!(parse_clock(text), minutes, "{text}");
        }
        for text in ["8:00", "08:0", "24:01", "25:00", "08:60", "0800", "ab:cd", "", "08:00:00", "-1:00"] {
            assert_eq!(parse_clock(text), None, "{text}");
        }
    }

    #[test]
    fn day_names() {
        assert_eq!(parse_day("Monday"), Some(Weekday::Monday));
        assert_eq!(parse_day("sunday"), Some(Weekday::Sunday));
        assert_eq!(parse_day("mon"), None);
        assert_eq!(parse_day("funday"), None);
    }

    #[test]
    fn a_days_mask_reads_back_as_the_names_a_policy_writes() {
        let mask = [Weekday::Sunday, Weekday::Monday, Weekday::Friday].iter().fold(0, |mask, day| mask | day_bit(*day));
        assert_eq!(days_in(mask), ["monday", "friday", "sunday"]);
        assert_eq!(days_in(0b111_1111).len(), 7);
        for (name, day) in DAYS {
            assert_eq!((parse_day(name), day_name(day).to_lowercase()), (Some(day), name.to_string()));
        }
    }
}
