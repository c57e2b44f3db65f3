//! The value tests of an event pattern (one per entry of a field's match
//! list) and how each one judges one scalar value of the event.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::Value;

/// Largest magnitude that numeric matching handles (`5.0e9`), as documented
/// for EventBridge ("between -5.0e9 and +5.0e9 inclusive, with 15 digits of
/// precision, or six digits to the right of the decimal point").
pub(super) const NUMERIC_LIMIT: f64 = 5e9;

/// One test of a field's match list.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Matcher {
    /// An exact string.
    Str(String),
    /// An exact string that is an IP address literal: matches the same
    /// address however it is written.
    Ip { text: String, address: IpAddr },
    /// An exact number: `comparable` when within the numeric range.
    Number { comparable: Option<i64>, value: f64 },
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `{"prefix": ..}`.
    Prefix(String),
    /// `{"prefix": {"equals-ignore-case": ..}}` (lowercased).
    PrefixIgnoreCase(String),
    /// `{"suffix": ..}`.
    Suffix(String),
    /// `{"suffix": {"equals-ignore-case": ..}}` (lowercased).
    SuffixIgnoreCase(String),
    /// `{"equals-ignore-case": ..}` (lowercased).
    EqualsIgnoreCase(String),
    /// `{"wildcard": ..}`.
    Wildcard(Wildcard),
    /// `{"anything-but": "a" | ["a", ..]}` over strings.
    AnythingButStrings(Vec<String>),
    /// `{"anything-but": 1 | [1, ..]}` over numbers (comparable forms).
    AnythingButNumbers(Vec<i64>),
    /// `{"anything-but": {"prefix": ..}}`.
    AnythingButPrefix(Vec<String>),
    /// `{"anything-but": {"suffix": ..}}`.
    AnythingButSuffix(Vec<String>),
    /// `{"anything-but": {"equals-ignore-case": ..}}` (lowercased).
    AnythingButIgnoreCase(Vec<String>),
    /// `{"anything-but": {"wildcard": ..}}`.
    AnythingButWildcard(Vec<Wildcard>),
    /// `{"numeric": [..]}`: bounds in comparable form, `true` when open.
    Numeric { bottom: Option<(i64, bool)>, top: Option<(i64, bool)> },
    /// `{"cidr": ..}`.
    Cidr(CidrRange),
    /// `{"exists": ..}`.
    Exists(bool),
}

impl Matcher {
    /// Whether this test accepts the scalar event value `value`.
    pub(super) fn accepts(&self, value: &Value) -> bool {
        match self {
            Matcher::Str(s) => value.as_str() == Some(s.as_str()),
            Matcher::Ip { text, address } => match value.as_str() {
                Some(v) => v == text || parse_ip_literal(v).is_some_and(|ip| ip == *address),
                None => false,
            },
            Matcher::Number { comparable, value: wanted } => match value {
                Value::Number(n) => {
                    let Some(f) = n.as_f64() else { return false };
                    match (comparable, comparable_number(f)) {
                        (Some(a), Some(b)) => *a == b,
                        _ => f == *wanted,
                    }
                }
                _ => false,
            },
            Matcher::Bool(b) => value.as_bool() == Some(*b),
            Matcher::Null => value.is_null(),
            Matcher::Prefix(p) => value.as_str().is_some_and(|v| v.starts_with(p.as_str())),
            Matcher::PrefixIgnoreCase(p) => value.as_str().is_some_and(|v| v.to_lowercase().starts_with(p.as_str())),
            Matcher::Suffix(s) => value.as_str().is_some_and(|v| v.ends_with(s.as_str())),
            Matcher::SuffixIgnoreCase(s) => value.as_str().is_some_and(|v| v.to_lowercase().ends_with(s.as_str())),
            Matcher::EqualsIgnoreCase(s) => value.as_str().is_some_and(|v| v.to_lowercase() == *s),
            Matcher::Wildcard(w) => value.as_str().is_some_and(|v| w.matches(v)),
            Matcher::AnythingButStrings(list) => match value.as_str() {
                Some(v) => !list.iter().any(|s| s == v),
                None => true,
            },
            Matcher::AnythingButNumbers(list) => match value.as_f64() {
                Some(f) if value.is_number() => comparable_number(f).is_none_or(|c| !list.contains(&c)),
                _ => true,
            },
            Matcher::AnythingButPrefix(list) => match value.as_str() {
                Some(v) => !list.iter().any(|p| v.starts_with(p.as_str())),
                None => true,
            },
            Matcher::AnythingButSuffix(list) => match value.as_str() {
                Some(v) => !list.iter().any(|s| v.ends_with(s.as_str())),
                None => true,
            },
            Matcher::AnythingButIgnoreCase(list) => match value.as_str() {
                Some(v) => {
                    let lower = v.to_lowercase();
                    !list.contains(&lower)
                }
                None => true,
            },
            Matcher::AnythingButWildcard(list) => match value.as_str() {
                Some(v) => !list.iter().any(|w| w.matches(v)),
                None => true,
            },
            Matcher::Numeric { bottom, top } => {
                let Some(c) = value.as_f64().filter(|_| value.is_number()).and_then(comparable_number) else {
                    return false;
                };
                let above = match bottom {
                    None => true,
                    Some((b, open)) => c > *b || (!open && c == *b),
                };
                let below = match top {
                    None => true,
                    Some((t, open)) => c < *t || (!open && c == *t),
                };
                above && below
            }
            Matcher::Cidr(range) => value.as_str().and_then(parse_ip_literal).is_some_and(|ip| range.contains(ip)),
            // Exists tests are judged per field, not per value.
            Matcher::Exists(exists) => *exists,
        }
    }
}

/// A number in the comparable form numeric matching uses: micro-units
/// above `-5.0e9`, or `None` outside the range (computed as the reference
/// rule engine does, so precision ends at six decimal places).
pub(super) fn comparable_number(f: f64) -> Option<i64> {
    if !(-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&f) {
        return None;
    }
    // In range, the product is below 1e16 and positive: the cast is exact
    // truncation, as Java's `(long)` cast is.
    Some((1e6 * (NUMERIC_LIMIT + f)) as i64)
}

/// The message for a number outside the numeric range.
pub(super) fn out_of_range_message() -> String {
    "Value must be between -5.0E9 and 5.0E9, inclusive".to_string()
}

/// `text` (a JSON number) in comparable form, or the range message.
pub(super) fn comparable_from_text(text: &str) -> Result<i64, String> {
    text.parse::<f64>().ok().and_then(comparable_number).ok_or_else(out_of_range_message)
}

/// An address range of a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CidrRange {
    v6: bool,
    low: u128,
    high: u128,
}

impl CidrRange {
    fn contains(&self, ip: IpAddr) -> bool {
        let (v6, n) = ip_number(ip);
        v6 == self.v6 && self.low <= n && n <= self.high
    }
}

fn ip_number(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

/// Whether `text` has the shape of an IPv4 (`n.n.n.n`) or IPv6 literal.
fn looks_like_ip(text: &str) -> bool {
    let v4 = {
        let parts: Vec<&str> = text.split('.').collect();
        parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let v6 = text.contains(':') && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    v4 || v6
}

/// Parses an IP address literal the way the reference engine accepts them
/// (IPv4 octets may carry leading zeros). `None` when it is not one.
pub(super) fn parse_ip_literal(text: &str) -> Option<IpAddr> {
    if !looks_like_ip(text) {
        return None;
    }
    if text.contains(':') {
        return text.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let mut octets = [0u8; 4];
    for (slot, part) in octets.iter_mut().zip(text.split('.')) {
        *slot = part.trim_start_matches('0').parse::<u8>().ok().or(part.bytes().all(|b| b == b'0').then_some(0))?;
    }
    Some(IpAddr::V4(Ipv4Addr::from(octets)))
}

/// Parses a `{"cidr": ..}` value; the error messages are the reference
/// engine's (they carry no location).
pub(super) fn parse_cidr(text: &str) -> Result<CidrRange, String> {
    // Java's split drops trailing empty pieces.
    let mut pieces: Vec<&str> = text.split('/').collect();
    while pieces.last() == Some(&"") {
        pieces.pop();
    }
    if pieces.len() != 2 {
        return Err("Malformed CIDR, one '/' required".into());
    }
    let bits: i32 = pieces[1].parse().map_err(|_| "Malformed CIDR, mask bits must be an integer".to_string())?;
    if bits < 0 {
        return Err("Malformed CIDR, mask bits must not be negative".into());
    }
    let address = pieces[0];
    if !looks_like_ip(address) {
        return Err(format!("Nonstandard IP address: {address}"));
    }
    let ip = parse_ip_literal(address).ok_or_else(|| format!("Invalid IP address: {address}"))?;
    let (v6, n) = ip_number(ip);
    let width = if v6 { 128 } else { 32 };
    if !v6 && bits > 31 {
        return Err("IPv4 mask bits must be < 32".into());
    }
    if v6 && bits > 127 {
        return Err("IPv6 mask bits must be < 128".into());
    }
    // The reference engine keeps the given address as the bottom of the
    // range and sets the host bits for the top.
    let host_bits = (width - bits) as u32;
    let host_mask: u128 = if host_bits >= 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
    Ok(CidrRange { v6, low: n, high: n | host_mask })
}

/// A compiled `wildcard` value: characters, `None` standing for `*`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Wildcard {
    pattern: Vec<Option<char>>,
}

impl Wildcard {
    /// Parses a wildcard value. Positions in messages are byte offsets in
    /// the value with its JSON quotes, as the reference engine reports them.
    pub(super) fn parse(text: &str) -> Result<Wildcard, String> {
        let quoted = format!("\"{text}\"");
        let bytes = quoted.as_bytes();
        let last = bytes.len() - 1;
        let mut pattern = Vec::new();
        let mut literal = Vec::new();
        let flush = |literal: &mut Vec<u8>, pattern: &mut Vec<Option<char>>| {
            pattern.extend(String::from_utf8_lossy(literal).chars().map(Some));
            literal.clear();
        };
        let mut i = 1;
        while i < last {
            match bytes[i] {
                b'*' => {
                    if bytes[i + 1] == b'*' {
                        return Err(format!("Consecutive wildcard characters at pos {i}"));
                    }
                    flush(&mut literal, &mut pattern);
                    pattern.push(None);
                }
                b'\\' => match bytes[i + 1] {
                    next @ (b'*' | b'\\') => {
                        literal.push(next);
                        i += 1;
                    }
                    _ => return Err(format!("Invalid escape character at pos {i}")),
                },
                b => literal.push(b),
            }
            i += 1;
        }
        flush(&mut literal, &mut pattern);
        Ok(Wildcard { pattern })
    }

    /// Whether `value` matches (`*` stands for any run of characters,
    /// possibly empty).
    pub(super) fn matches(&self, value: &str) -> bool {
        let p = &self.pattern;
        let s: Vec<char> = value.chars().collect();
        let (mut i, mut j) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while i < s.len() {
            if j < p.len() && p[j] == Some(s[i]) {
                i += 1;
                j += 1;
            } else if j < p.len() && p[j].is_none() {
                star = Some((j, i));
                j += 1;
            } else if let Some((star_j, star_i)) = star {
                star = Some((star_j, star_i + 1));
                j = star_j + 1;
                i = star_i + 1;
            } else {
                return false;
            }
        }
        p[j..].iter().all(Option::is_none)
    }
}
