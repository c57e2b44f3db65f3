//! Schedule expressions as AWS documents them for scheduled flows and
//! rules: `rate(N unit)` and the six-field `cron(minutes hours
//! day-of-month month day-of-week year)` with `*`, `?`, ranges, lists,
//! steps, `L`, `W` and `#`. Times are UTC (AppFlow's `timezone` is only a
//! label); nothing here does I/O.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// `rate(N unit)`: every `seconds` seconds from an anchor.
    Rate {
        /// Interval length.
        seconds: u64,
    },
    /// `cron(...)`.
    Cron(Cron),
}

/// The day-of-month or day-of-week rule of a cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DayRule {
    /// `?`: the other field decides.
    Unspecified,
    /// Any of these items.
    Items(Vec<DayItem>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayItem {
    /// Day-of-month in these days (bits 1..=31) or day-of-week (bits 1..=7, 1 = Sunday).
    Set(u64),
    /// `L` in day-of-month: the last day of the month.
    LastDay,
    /// `LW`: the last weekday (Monday to Friday) of the month.
    LastWeekday,
    /// `nW`: the weekday nearest to day n, within the month.
    NearestWeekday(u8),
    /// `nL` in day-of-week: the last such weekday of the month.
    LastOf(u8),
    /// `n#k` in day-of-week: the k-th such weekday of the month.
    Nth(u8, u8),
}

/// A six-field cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days_of_month: DayRule,
    months: u64,
    days_of_week: DayRule,
    /// Years 1970..=2199 as offsets from 1970.
    years: Vec<bool>,
}

const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2199;
const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Parses `rate(5minutes)`, `rate(1 hour)`, `rate(2 days)` or a six-field
/// `cron(...)` expression. The shortest rate is one minute.
pub fn parse_schedule_expression(expression: &str) -> Result<Schedule, String> {
    let expression = expression.trim();
    if let Some(body) = expression.strip_prefix("rate(").and_then(|b| b.strip_suffix(')')) {
        let body = body.trim();
        let digits_end = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len());
        let (number, unit) = body.split_at(digits_end);
        let count: u64 =
            number.parse().map_err(|_| format!("'{expression}' must start with a whole number of units"))?;
        if count == 0 {
            return Err(format!("'{expression}' must be at least 1"));
        }
        let unit_seconds = match unit.trim() {
            "minute" | "minutes" => 60,
            "hour" | "hours" => 3600,
            "day" | "days" => 86_400,
            other => return Err(format!("unknown rate unit '{other}'; use minutes, hours or days")),
        };
        return Ok(Schedule::Rate { seconds: count * unit_seconds });
    }
    if let Some(body) = expression.strip_prefix("cron(").and_then(|b| b.strip_suffix(')')) {
        return Cron::parse(body).map(Schedule::Cron).map_err(|reason| format!("'{expression}': {reason}"));
    }
    Err(format!("'{expression}' is neither rate(...) nor cron(...)"))
}

/// A field's numbers: `*`, `a`, `a-b`, `a/s`, `a-b/s`, `*/s`, lists of those.
fn number_set(field: &str, what: &str, low: u32, high: u32, names: &[&str]) -> Result<u64, String> {
    let value = |text: &str| -> Result<u32, String> {
        let upper = text.to_ascii_uppercase();
        if let Some(i) = names.iter().position(|n| *n == upper) {
            return Ok(low + i as u32);
        }
        let n: u32 = text.parse().map_err(|_| format!("{what} value '{text}' is not valid"))?;
        if n < low || n > high {
            return Err(format!("{what} value {n} is out of range {low}-{high}"));
        }
        Ok(n)
    };
    let mut set = 0u64;
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().map_err(|_| format!("{what} step '{step}' is not a number"))?;
                if step == 0 {
                    return Err(format!("{what} step must be at least 1"));
                }
                (range, step)
            }
            None => (item, 1),
        };
        let (start, end) = match range {
            "*" => (low, high),
            _ => match range.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if item.contains('/') => (value(range)?, high),
                None => {
                    let n = value(range)?;
                    (n, n)
                }
            },
        };
        if start > end {
            return Err(format!("{what} range {start}-{end} goes backwards"));
        }
        let mut n = start;
        while n <= end {
            set |= 1 << n;
            n += step;
        }
    }
    Ok(set)
}

fn day_of_month_rule(field: &str) -> Result<DayRule, String> {
    if field == "?" {
        return Ok(DayRule::Unspecified);
    }
    let mut items = Vec::new();
    for item in field.split(',') {
        let upper = item.to_ascii_uppercase();
        items.push(match upper.as_str() {
            "L" => DayItem::LastDay,
            "LW" => DayItem::LastWeekday,
            _ if upper.ends_with('W') => {
                let day: u8 = upper[..upper.len() - 1]
                    .parse()
                    .ok()
                    .filter(|d| (1..=31).contains(d))
                    .ok_or_else(|| format!("day-of-month '{item}' is not valid"))?;
                DayItem::NearestWeekday(day)
            }
            _ => DayItem::Set(number_set(item, "day-of-month", 1, 31, &[])?),
        });
    }
    Ok(DayRule::Items(items))
}

fn day_of_week_rule(field: &str) -> Result<DayRule, String> {
    if field == "?" {
        return Ok(DayRule::Unspecified);
    }
    let weekday = |text: &str| -> Result<u8, String> {
        let upper = text.to_ascii_uppercase();
        if let Some(i) = WEEKDAYS.iter().position(|n| *n == upper) {
            return Ok(i as u8 + 1);
        }
        text.parse::<u8>()
            .ok()
            .filter(|d| (1..=7).contains(d))
            .ok_or_else(|| format!("day-of-week '{text}' is not valid"))
    };
    let mut items = Vec::new();
    for item in field.split(',') {
        let upper = item.to_ascii_uppercase();
        items.push(if upper == "L" {
            DayItem::Set(1 << 7)
        } else if let Some((day, nth)) = upper.split_once('#') {
            let nth: u8 =
                nth.parse().ok().filter(|n| (1..=5).contains(n)).ok_or_else(|| format!("'{item}': # takes 1 to 5"))?;
            DayItem::Nth(weekday(day)?, nth)
        } else if let Some(day) = upper.strip_suffix('L') {
            DayItem::LastOf(weekday(day)?)
        } else {
            DayItem::Set(number_set(item, "day-of-week", 1, 7, &WEEKDAYS)?)
        });
    }
    Ok(DayRule::Items(items))
}

impl Cron {
    /// Parses the six fields of a cron expression.
    pub fn parse(body: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        let [minutes, hours, days_of_month, months, days_of_week, years] = fields[..] else {
            return Err("a cron expression has six fields: minutes hours day-of-month month day-of-week year".into());
        };
        let days_of_month = day_of_month_rule(days_of_month)?;
        let days_of_week = day_of_week_rule(days_of_week)?;
        let one_unspecified = matches!(
            (&days_of_month, &days_of_week),
            (DayRule::Unspecified, DayRule::Items(_)) | (DayRule::Items(_), DayRule::Unspecified)
        );
        if !one_unspecified {
            return Err("one of day-of-month and day-of-week must be '?' and the other not".into());
        }
        let year_set = {
            let mut set = vec![false; (LAST_YEAR - FIRST_YEAR + 1) as usize];
            for item in years.split(',') {
                let (range, step) = match item.split_once('/') {
                    Some((range, step)) => (
                        range,
                        step.parse::<i32>()
                            .ok()
                            .filter(|s| *s > 0)
                            .ok_or_else(|| format!("year step '{step}' is not valid"))?,
                    ),
                    None => (item, 1),
                };
                let year = |text: &str| {
                    text.parse::<i32>()
                        .ok()
                        .filter(|y| (FIRST_YEAR..=LAST_YEAR).contains(y))
                        .ok_or_else(|| format!("year '{text}' is not valid ({FIRST_YEAR}-{LAST_YEAR})"))
                };
                let (start, end) = match range {
                    "*" => (FIRST_YEAR, LAST_YEAR),
                    _ => match range.split_once('-') {
                        Some((a, b)) => (year(a)?, year(b)?),
                        None if item.contains('/') => (year(range)?, LAST_YEAR),
                        None => (year(range)?, year(range)?),
                    },
                };
                let mut y = start;
                while y <= end {
                    set[(y - FIRST_YEAR) as usize] = true;
                    y += step;
                }
            }
            set
        };
        Ok(Cron {
            minutes: number_set(minutes, "minute", 0, 59, &[])?,
            hours: number_set(hours, "hour", 0, 23, &[])?,
            days_of_month,
            months: number_set(months, "month", 1, 12, &MONTHS)?,
            days_of_week,
            years: year_set,
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        let days_in_month = date.month().length(date.year());
        let day = date.day();
        let weekday = date.weekday().number_from_sunday();
        let is_weekday = (2..=6).contains(&weekday);
        let rule = match (&self.days_of_month, &self.days_of_week) {
            (DayRule::Items(items), _) => items,
            (DayRule::Unspecified, DayRule::Items(items)) => items,
            (DayRule::Unspecified, DayRule::Unspecified) => return true,
        };
        let by_month = matches!(self.days_of_month, DayRule::Items(_));
        rule.iter().any(|item| match *item {
            DayItem::Set(set) if by_month => set & (1 << day) != 0,
            DayItem::Set(set) => set & (1 << weekday) != 0,
            DayItem::LastDay => day == days_in_month,
            DayItem::LastWeekday => is_weekday && (day + 1..=days_in_month).all(|later| !weekday_of(date, later)),
            DayItem::NearestWeekday(target) => nearest_weekday(date.year(), date.month(), target) == Some(day),
            DayItem::LastOf(wanted) => weekday == wanted && day + 7 > days_in_month,
            DayItem::Nth(wanted, nth) => weekday == wanted && (day - 1) / 7 + 1 == nth,
        })
    }

    /// The first time strictly after `after` (to the minute) that matches,
    /// or `None` when none does before the end of 2199.
    pub fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let after = after.to_offset(time::UtcOffset::UTC);
        let start = after.replace_second(0).ok()?.replace_nanosecond(0).ok()? + time::Duration::minutes(1);
        let mut date = start.date();
        let mut first_day = true;
        while date.year() <= LAST_YEAR {
            let year_ok = date.year() >= FIRST_YEAR && self.years[(date.year() - FIRST_YEAR) as usize];
            if !year_ok {
                date = Date::from_calendar_date(date.year() + 1, Month::January, 1).ok()?;
                first_day = false;
                continue;
            }
            if self.months & (1 << u8::from(date.month())) == 0 {
                date = first_of_next_month(date)?;
                first_day = false;
                continue;
            }
            if self.day_matches(date) {
                let (from_hour, from_minute) = if first_day { (start.hour(), start.minute()) } else { (0, 0) };
                for hour in from_hour..24 {
                    if self.hours & (1 << hour) == 0 {
                        continue;
                    }
                    let first_minute = if hour == from_hour { from_minute } else { 0 };
                    for minute in first_minute..60 {
                        if self.minutes & (1 << minute) != 0 {
                            let time = Time::from_hms(hour, minute, 0).ok()?;
                            return Some(PrimitiveDateTime::new(date, time).assume_utc());
                        }
                    }
                }
            }
            date = date.next_day()?;
            first_day = false;
        }
        None
    }
}

fn weekday_of(date: Date, day: u8) -> bool {
    Date::from_calendar_date(date.year(), date.month(), day)
        .map(|d| (2..=6).contains(&d.weekday().number_from_sunday()))
        .unwrap_or(false)
}

/// The weekday nearest to `target` in its month (`15W`: a Saturday 15th
/// gives Friday the 14th, a Sunday Monday the 16th; never another month).
fn nearest_weekday(year: i32, month: Month, target: u8) -> Option<u8> {
    let days = month.length(year);
    let target = target.min(days);
    let date = Date::from_calendar_date(year, month, target).ok()?;
    Some(match date.weekday().number_from_sunday() {
        7 if target == 1 => 3,
        7 => target - 1,
        1 if target == days => target - 2,
        1 => target + 1,
        _ => target,
    })
}

fn first_of_next_month(date: Date) -> Option<Date> {
    let (year, month) = match date.month() {
        Month::December => (date.year() + 1, Month::January),
        month => (date.year(), month.next()),
    };
    Date::from_calendar_date(year, month, 1).ok()
}

impl Schedule {
    /// The first occurrence at or after `not_before`, shifted by
    /// `offset_seconds` (AppFlow's `scheduleOffset`). A rate's occurrences
    /// are `anchor + k * interval`; a cron's are its matching minutes.
    pub fn first_at_or_after(
        &self,
        not_before: OffsetDateTime,
        anchor: OffsetDateTime,
        offset_seconds: i64,
    ) -> Option<OffsetDateTime> {
        let offset = time::Duration::seconds(offset_seconds);
        let wanted = not_before - offset;
        let base = match self {
            Schedule::Rate { seconds } => {
                let interval = *seconds as i128 * 1_000_000_000;
                let since = (wanted - anchor).whole_nanoseconds();
                let steps = if since <= 0 { 0 } else { (since + interval - 1) / interval };
                anchor + time::Duration::nanoseconds_i128(steps * interval)
            }
            Schedule::Cron(cron) => cron.next_after(wanted - time::Duration::nanoseconds(1))?,
        };
        Some(base + offset)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    /// The next `n` fire times after `from`.
    fn fires(expression: &str, from: OffsetDateTime, n: usize) -> Vec<String> {
        let Schedule::Cron(cron) = parse_schedule_expression(expression).unwrap() else { panic!("not a cron") };
        let mut out = Vec::new();
        let mut at = from;
        for _ in 0..n {
            at = cron.next_after(at).unwrap();
            out.push(format!("{} {:02}:{:02}", at.date(), at.hour(), at.minute()));
        }
        out
    }

    // The examples of the EventBridge documentation ("Schedule expressions
    // for rules"), from Wednesday 2026-12-02 10:07 UTC.
    const FROM: OffsetDateTime = datetime!(2026-12-02 10:07 UTC);

    #[test]
    fn documented_examples() {
        let table: &[(&str, &[&str])] = &[
            ("cron(0 10 * * ? *)", &["2026-12-03 10:00", "2026-12-04 10:00"]),
            ("cron(15 12 * * ? *)", &["2026-12-02 12:15", "2026-12-03 12:15"]),
            (
                "cron(0 18 ? * MON-FRI *)",
                &["2026-12-02 18:00", "2026-12-03 18:00", "2026-12-04 18:00", "2026-12-07 18:00"],
            ),
            ("cron(0 8 1 * ? *)", &["2027-01-01 08:00", "2027-02-01 08:00"]),
            ("cron(0/15 * * * ? *)", &["2026-12-02 10:15", "2026-12-02 10:30", "2026-12-02 10:45"]),
            ("cron(0/10 * ? * MON-FRI *)", &["2026-12-02 10:10", "2026-12-02 10:20"]),
            ("cron(0/5 8-17 ? * MON-FRI *)", &["2026-12-02 10:10", "2026-12-02 10:15"]),
            ("cron(0 9 ? * 2#1 *)", &["2026-12-07 09:00", "2027-01-04 09:00", "2027-02-01 09:00"]),
        ];
        for (expression, expected) in table {
            assert_eq!(fires(expression, FROM, expected.len()), *expected, "{expression}");
        }
    }

    #[test]
    fn wildcards_l_w_and_hash() {
        // Last day of the month, last Friday, last weekday, nearest weekday.
        assert_eq!(fires("cron(0 0 L * ? *)", FROM, 3), ["2026-12-31 00:00", "2027-01-31 00:00", "2027-02-28 00:00"]);
        assert_eq!(fires("cron(30 6 ? * 6L *)", FROM, 2), ["2026-12-25 06:30", "2027-01-29 06:30"]);
        assert_eq!(fires("cron(0 12 LW * ? *)", FROM, 2), ["2026-12-31 12:00", "2027-01-29 12:00"]);
        // 2027-05-15 is a Saturday -> Friday the 14th; 2027-08-01 is a Sunday -> Monday the 2nd.
        assert_eq!(fires("cron(0 12 15W 5 ? 2027)", FROM, 1), ["2027-05-14 12:00"]);
        assert_eq!(fires("cron(0 12 1W 8 ? 2027)", FROM, 1), ["2027-08-02 12:00"]);
        // The second Tuesday; Saturday as L.
        assert_eq!(fires("cron(0 9 ? * 3#2 *)", FROM, 2), ["2026-12-08 09:00", "2027-01-12 09:00"]);
        assert_eq!(fires("cron(0 9 ? * L *)", FROM, 2), ["2026-12-05 09:00", "2026-12-12 09:00"]);
    }

    #[test]
    fn lists_ranges_steps_names_and_years() {
        assert_eq!(
            fires("cron(5,35 14 * * ? *)", FROM, 3),
            ["2026-12-02 14:05", "2026-12-02 14:35", "2026-12-03 14:05"]
        );
        assert_eq!(
            fires("cron(0 0 1 JAN,JUL ? 2027-2028)", FROM, 3),
            ["2027-01-01 00:00", "2027-07-01 00:00", "2028-01-01 00:00"]
        );
        assert_eq!(
            fires("cron(0 23 ? * SUN,SAT 2026)", FROM, 3),
            ["2026-12-05 23:00", "2026-12-06 23:00", "2026-12-12 23:00"]
        );
        assert_eq!(
            fires("cron(10-20/5 3 2 12 ? 2026/2)", FROM, 4),
            ["2028-12-02 03:10", "2028-12-02 03:15", "2028-12-02 03:20", "2030-12-02 03:10"]
        );
        // February 30th never comes.
        let Schedule::Cron(never) = parse_schedule_expression("cron(0 0 30 2 ? *)").unwrap() else { panic!() };
        assert_eq!(never.next_after(FROM), None);
    }

    #[test]
    fn invalid_expressions_say_why() {
        for (bad, why) in [
            ("cron(0 10 * * * *)", "'?'"),
            ("cron(0 10 ? * ? *)", "'?'"),
            ("cron(60 10 * * ? *)", "out of range"),
            ("cron(0 10 * 13 ? *)", "out of range"),
            ("cron(0 10 ? * 8 *)", "out of range"),
            ("cron(0 10 ? * 2#6 *)", "1 to 5"),
            ("cron(0 10 32W * ? *)", "not valid"),
            ("cron(0 10 * * ? 2300)", "not valid"),
            ("cron(0 12 * *)", "six fields"),
            ("cron(5-1 * * * ? *)", "backwards"),
            ("cron(*/0 * * * ? *)", "at least 1"),
        ] {
            let error = parse_schedule_expression(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
        assert!(parse_schedule_expression("rate(5 weeks)").is_err());
        assert!(parse_schedule_expression("rate(0 minutes)").is_err());
        assert!(parse_schedule_expression("every day").is_err());
    }

    #[test]
    fn rates_run_from_their_anchor_with_the_offset() {
        let hourly = parse_schedule_expression("rate(1hours)").unwrap();
        assert_eq!(hourly, Schedule::Rate { seconds: 3600 });
        let anchor = datetime!(2026-12-01 00:30 UTC);
        assert_eq!(hourly.first_at_or_after(anchor, anchor, 0), Some(anchor), "the anchor itself is the first");
        assert_eq!(hourly.first_at_or_after(FROM, anchor, 0), Some(datetime!(2026-12-02 10:30 UTC)));
        assert_eq!(hourly.first_at_or_after(FROM, anchor, 120), Some(datetime!(2026-12-02 10:32 UTC)));
        assert_eq!(hourly.first_at_or_after(datetime!(2026-11-01 00:00 UTC), anchor, 0), Some(anchor));
        let daily = parse_schedule_expression("rate(1 day)").unwrap();
        assert_eq!(daily.first_at_or_after(FROM, anchor, 0), Some(datetime!(2026-12-03 00:30 UTC)));
        let cron = parse_schedule_expression("cron(0 10 * * ? *)").unwrap();
        assert_eq!(
            cron.first_at_or_after(datetime!(2026-12-03 10:00 UTC), anchor, 0),
            Some(datetime!(2026-12-03 10:00 UTC)),
            "a cron time is at or after itself"
        );
        assert_eq!(cron.first_at_or_after(FROM, anchor, 300), Some(datetime!(2026-12-03 10:05 UTC)));
    }
}
