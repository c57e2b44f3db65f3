//! Paging tokens. They look like Marketo's (RFC 4648 base32 with `=`
//! padding) and carry a position, so they survive restarts:
//!
//! - activity tokens: `<datetime>,<last activity id seen>` — the form
//!   Marketo's date-based tokens decode to;
//! - lead tokens: `L,<last lead id returned>`.

use super::time_format::{format_token_datetime, parse_datetime};

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base32 (RFC 4648) with padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buffer = [0u8; 5];
        buffer[..chunk.len()].copy_from_slice(chunk);
        let bits = buffer.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let symbols = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < symbols {
                let index = ((bits >> (35 - i * 5)) & 0x1f) as usize;
                out.push(ALPHABET[index] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes base32 (padding optional); `None` for any other character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let symbols = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(symbols.len() * 5 / 8);
    let mut bits: u64 = 0;
    let mut count = 0;
    for c in symbols.bytes() {
        let value = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())? as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xff) as u8);
        }
    }
    Some(out)
}

/// A position in the activity log: activities with a larger id come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityPosition {
    /// The date the token stands for (Unix seconds), for show.
    pub since: i64,
    /// Last activity id already seen (0: none).
    pub after_id: i64,
}

/// Encodes an activity position.
pub fn activity_token(position: ActivityPosition) -> String {
    base32_encode(format!("{},{}", format_token_datetime(position.since), position.after_id).as_bytes())
}

/// Decodes an activity token; `None` when this simulator did not make it.
pub fn parse_activity_token(token: &str) -> Option<ActivityPosition> {
    let text = String::from_utf8(base32_decode(token.trim())?).ok()?;
    let (date, id) = text.rsplit_once(',')?;
    let since = parse_datetime(date)?;
    let after_id = id.parse::<i64>().ok().filter(|id| *id >= 0)?;
    Some(ActivityPosition { since, after_id })
}

/// Encodes the position after the last lead of a page.
pub fn lead_token(last_id: i64) -> String {
    base32_encode(format!("L,{last_id}").as_bytes())
}

/// Decodes a lead page token to the last lead id already returned.
pub fn parse_lead_token(token: &str) -> Option<i64> {
    let text = String::from_utf8(base32_decode(token.trim())?).ok()?;
    text.strip_prefix("L,")?.parse::<i64>().ok().filter(|id| *id >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY======"),
            ("fo", "MZXQ===="),
            ("foo", "MZXW6==="),
            ("foob", "MZXW6YQ="),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI======"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded), Some(plain.as_bytes().to_vec()));
        }
        assert_eq!(base32_decode("not base32!"), None);
    }

    #[test]
    fn marketo_sample_token_decodes_as_a_date_position() {
        // The sample token from Marketo's paging token documentation.
        let position = parse_activity_token("GIYDAOBNGEYS2MBWKQYDAORQGA5DAMBOGAYDAKZQGAYDALBQ");
        assert_eq!(position, Some(ActivityPosition { since: 1_225_929_600, after_id: 0 }));
    }

    #[test]
    fn tokens_round_trip_and_do_not_mix() {
        let position = ActivityPosition { since: 1_706_695_200, after_id: 1234 };
        let token = activity_token(position);
        assert_eq!(parse_activity_token(&token), Some(position));
        assert_eq!(parse_lead_token(&token), None);
        let lead = lead_token(300);
        assert_eq!(parse_lead_token(&lead), Some(300));
        assert_eq!(parse_activity_token(&lead), None);
        assert_eq!(parse_activity_token("GARBAGE"), None);
    }
}
