//! Salesforce record ids: 15 case-sensitive characters (3-character key
//! prefix, instance and counter) plus the 3-character case-safe suffix.

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SUFFIX: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// Builds the 18-character id for `counter` under a 3-character key prefix.
pub fn make_id(key_prefix: &str, counter: u64) -> String {
    let mut body = [b'0'; 10];
    let mut n = counter;
    for slot in body.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    // "5g" stands for the instance part of real ids.
    let id15 = format!("{key_prefix}5g{}", String::from_utf8_lossy(&body));
    format!("{id15}{}", case_safe_suffix(&id15))
}

/// The 3-character suffix that makes a 15-character id case-insensitive.
pub fn case_safe_suffix(id15: &str) -> String {
    id15.as_bytes()
        .chunks(5)
        .take(3)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .fold(0usize, |acc, (i, c)| if c.is_ascii_uppercase() { acc | (1 << i) } else { acc });
            SUFFIX[bits] as char
        })
        .collect()
}

/// Normalizes a 15- or 18-character id to 18 characters; `None` if it is
/// neither length or not alphanumeric.
pub fn to_18(id: &str) -> Option<String> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        18 => Some(id.to_string()),
        15 => Some(format!("{id}{}", case_safe_suffix(id))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_18_chars_with_a_valid_suffix() {
        let id = make_id("001", 1);
        assert_eq!(id.len(), 18);
        assert!(id.starts_with("0015g"));
        assert_eq!(to_18(&id[..15]).unwrap(), id);
        assert_ne!(make_id("001", 1), make_id("001", 2));
        assert!(to_18("bad-id").is_none());
    }

    #[test]
    fn suffix_matches_salesforce_algorithm() {
        // A documented example: 001A0000006Vm9r -> 001A0000006Vm9rIAC
        assert_eq!(case_safe_suffix("001A0000006Vm9r"), "IAC");
    }
}
