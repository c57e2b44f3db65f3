//! Datetimes as Marketo writes them (`2024-01-31T10:00:00Z`, UTC, whole
//! seconds) and the ISO-8601 forms it reads. Times are kept as Unix seconds.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Now, in Unix seconds.
pub fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// `2024-01-31T10:00:00Z`.
pub fn format_datetime(secs: i64) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::from_unix_timestamp(secs).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

/// `2024-01-31`.
pub fn format_date(secs: i64) -> String {
    let format = format_description!("[year]-[month]-[day]");
    OffsetDateTime::from_unix_timestamp(secs).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

/// `2024-01-31T10:00:00.000+0000`, the form inside date-based paging tokens.
pub fn format_token_datetime(secs: i64) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000+0000");
    OffsetDateTime::from_unix_timestamp(secs).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

/// Reads `2024-01-31T10:00:00Z`, `...+05:00`, `...+0500`, `....000+0000`,
/// `2024-01-31T10:00:00` (UTC) and `2024-01-31` (midnight UTC).
pub fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    if text.len() > 5 {
        let (head, offset) = text.split_at(text.len() - 5);
        if (offset.starts_with('+') || offset.starts_with('-')) && offset[1..].bytes().all(|b| b.is_ascii_digit()) {
            let with_colon = format!("{head}{}:{}", &offset[..3], &offset[3..]);
            if let Ok(t) = OffsetDateTime::parse(&with_colon, &Rfc3339) {
                return Some(t.unix_timestamp());
            }
        }
    }
    let local = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = PrimitiveDateTime::parse(text, &local) {
        return Some(t.assume_offset(UtcOffset::UTC).unix_timestamp());
    }
    let date_only = format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(text, &date_only) {
        return Some(d.midnight().assume_offset(UtcOffset::UTC).unix_timestamp());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_accepts_marketo_forms() {
        let t = parse_datetime("2024-01-31T10:00:00Z");
        assert_eq!(t, Some(1_706_695_200));
        assert_eq!(format_datetime(1_706_695_200), "2024-01-31T10:00:00Z");
        assert_eq!(parse_datetime("2024-01-31T12:00:00+02:00"), t);
        assert_eq!(parse_datetime("2024-01-31T10:00:00.000+0000"), t);
        assert_eq!(parse_datetime("2024-01-31T10:00:00"), t);
        assert_eq!(parse_datetime("2024-01-31"), Some(1_706_659_200));
        assert_eq!(parse_datetime("31/01/2024"), None);
        assert_eq!(format_token_datetime(1_706_695_200), "2024-01-31T10:00:00.000+0000");
        assert_eq!(format_date(1_706_695_200), "2024-01-31");
    }
}
