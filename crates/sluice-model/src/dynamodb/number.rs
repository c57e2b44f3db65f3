//! DynamoDB numbers (`N`): exact decimals of up to 38 significant digits,
//! magnitudes from 1E-130 to 9.9999999999999999999999999999999999999E+125,
//! compared by value and written back in DynamoDB's canonical form (no
//! exponent, no leading or trailing zeros: `"01.50"` is `"1.5"`). Refusals
//! carry DynamoDB's ValidationException messages.

use std::cmp::Ordering;

/// Most significant digits a number may have.
pub const MAX_DIGITS: usize = 38;
/// Largest decimal exponent `e` of `0.d1d2... x 10^e` (magnitude below 1E+126).
const MAX_EXPONENT: i32 = 126;
/// Smallest decimal exponent (magnitude at least 1E-130).
const MIN_EXPONENT: i32 = -129;

/// A DynamoDB number: `sign x 0.digits x 10^exponent`, digits without
/// leading or trailing zeros (none at all for zero).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    digits: Vec<u8>,
    exponent: i32,
}

/// Why a text is not a DynamoDB number (DynamoDB's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Not a decimal number at all.
    #[error("The parameter cannot be converted to a numeric value: {0}")]
    NotNumeric(String),
    /// More than 38 significant digits.
    #[error("Attempting to store more than 38 significant digits in a Number")]
    TooManyDigits,
    /// Magnitude of 1E+126 or more.
    #[error("Number overflow. Attempting to store a number with magnitude larger than supported range")]
    Overflow,
    /// Magnitude below 1E-130 (and not zero).
    #[error("Number underflow. Attempting to store a number with magnitude smaller than supported range")]
    Underflow,
}

impl Number {
    /// Parses `[+-]digits[.digits][(e|E)[+-]digits]` (or `.digits`), as
    /// DynamoDB accepts numbers.
    pub fn parse(text: &str) -> Result<Self, NumberError> {
        let not_numeric = || NumberError::NotNumeric(text.to_string());
        let bytes = text.as_bytes();
        let mut i = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut mantissa = Vec::new();
        let mut point: Option<usize> = None;
        while i < bytes.len() {
            match bytes[i] {
                b @ b'0'..=b'9' => mantissa.push(b - b'0'),
                b'.' if point.is_none() => point = Some(mantissa.len()),
                b'e' | b'E' => break,
                _ => return Err(not_numeric()),
            }
            i += 1;
        }
        if mantissa.is_empty() {
            return Err(not_numeric());
        }
        let mut exponent: i64 = 0;
        if i < bytes.len() {
            let rest = &text[i + 1..];
            let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(not_numeric());
            }
            // Far beyond any supported magnitude either way: keep it bounded.
            let value: i64 = digits.parse::<i64>().unwrap_or(i64::from(i32::MAX)).min(i64::from(i32::MAX));
            exponent = if rest.starts_with('-') { -value } else { value };
        }
        let integer_digits = point.unwrap_or(mantissa.len()) as i64;
        let leading = mantissa.iter().take_while(|d| **d == 0).count();
        if leading == mantissa.len() {
            return Ok(Self::zero());
        }
        let trailing = mantissa.iter().rev().take_while(|d| **d == 0).count();
        let digits = mantissa[leading..mantissa.len() - trailing].to_vec();
        if digits.len() > MAX_DIGITS {
            return Err(NumberError::TooManyDigits);
        }
        let exponent = integer_digits - leading as i64 + exponent;
        if exponent > i64::from(MAX_EXPONENT) {
            return Err(NumberError::Overflow);
        }
        if exponent < i64::from(MIN_EXPONENT) {
            return Err(NumberError::Underflow);
        }
        Ok(Self { negative, digits, exponent: exponent as i32 })
    }

    /// Zero.
    pub fn zero() -> Self {
        Self { negative: false, digits: Vec::new(), exponent: 0 }
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// How many significant digits it has.
    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }

    /// The number as DynamoDB writes it back: plain decimal notation, no
    /// exponent, no superfluous zeros.
    pub fn canonical(&self) -> String {
        if self.is_zero() {
            return "0".to_string();
        }
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let len = digits.len() as i32;
        let body = if self.exponent >= len {
            format!("{digits}{}", "0".repeat((self.exponent - len) as usize))
        } else if self.exponent > 0 {
            let (int, frac) = digits.split_at(self.exponent as usize);
            format!("{int}.{frac}")
        } else {
            format!("0.{}{digits}", "0".repeat((-self.exponent) as usize))
        };
        if self.negative {
            format!("-{body}")
        } else {
            body
        }
    }

    /// Bytes the number takes in an item's size: its significant digits in
    /// base-100 pairs aligned on the decimal point, one byte each, plus one
    /// byte (and one more for a negative number).
    pub fn size(&self) -> usize {
        if self.is_zero() {
            return 1;
        }
        // Digit i stands for 10^(exponent - 1 - i); pairs are 100^k.
        let pair = |i: usize| (self.exponent - 1 - i as i32).div_euclid(2);
        let pairs = (pair(0) - pair(self.digits.len() - 1) + 1) as usize;
        1 + pairs + usize::from(self.negative)
    }

    /// Bytes that sort as the numbers do (the order of sort keys in a
    /// table): a sign byte, the exponent, the digits and a terminator, with
    /// everything after the sign byte inverted for negative numbers.
    pub fn order_key(&self) -> Vec<u8> {
        if self.is_zero() {
            return vec![0x80];
        }
        let exponent = (self.exponent + 0x8000) as u16;
        let mut key = Vec::with_capacity(self.digits.len() + 4);
        if self.negative {
            key.push(0x40);
            key.extend_from_slice(&(!exponent).to_be_bytes());
            key.extend(self.digits.iter().map(|d| 0xFE - d));
            key.push(0xFF);
        } else {
            key.push(0xC0);
            key.extend_from_slice(&exponent.to_be_bytes());
            key.extend(self.digits.iter().map(|d| d + 1));
            key.push(0x00);
        }
        key
    }

    /// Whether the number is negative.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    fn compare_magnitude(&self, other: &Self) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        self.exponent.cmp(&other.exponent).then_with(|| self.digits.cmp(&other.digits))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |n: &Self| {
            if n.is_zero() {
                0
            } else if n.negative {
                -1
            } else {
                1
            }
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal if self.negative => other.compare_magnitude(self),
            Ordering::Equal => self.compare_magnitude(other),
            unequal => unequal,
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::str::FromStr for Number {
    type Err = NumberError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        Number::parse(text).unwrap().canonical()
    }

    #[test]
    fn numbers_are_written_back_in_canonical_form() {
        for (given, written) in [
            ("0", "0"),
            ("-0", "0"),
            ("000.000", "0"),
            ("01", "1"),
            ("+7", "7"),
            ("1.50", "1.5"),
            ("-1.50", "-1.5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("1e2", "100"),
            ("1.5E-3", "0.0015"),
            ("123.456e1", "1234.56"),
            ("1000", "1000"),
            ("0.00100", "0.001"),
        ] {
            assert_eq!(canonical(given), written, "{given}");
        }
    }

    #[test]
    fn bad_numbers_get_dynamodbs_messages() {
        for bad in ["", "-", "abc", "1.2.3", "1e", "1e+", "e5", " 1", "1 ", "0x10", "1,5", "NaN", "Infinity"] {
            assert_eq!(
                Number::parse(bad).unwrap_err().to_string(),
                format!("The parameter cannot be converted to a numeric value: {bad}"),
                "{bad:?}"
            );
        }
        let digits39 = "1".repeat(39);
        assert_eq!(Number::parse(&digits39), Err(NumberError::TooManyDigits));
        // Zeros around the digits do not count.
        assert!(Number::parse(&format!("000{}000", "1".repeat(38))).is_ok());
        assert!(Number::parse(&format!("0.{}", "9".repeat(38))).is_ok());
        assert!(Number::parse(&format!("9.{}E+125", "9".repeat(37))).is_ok());
        assert_eq!(Number::parse("1E+126"), Err(NumberError::Overflow));
        assert_eq!(Number::parse("-1E+126"), Err(NumberError::Overflow));
        assert!(Number::parse("1E-130").is_ok());
        assert_eq!(Number::parse("9E-131"), Err(NumberError::Underflow));
        assert_eq!(Number::parse("1e999999999999"), Err(NumberError::Overflow));
        assert_eq!(Number::parse("1e-999999999999"), Err(NumberError::Underflow));
        assert!(Number::parse("0e999999").unwrap().is_zero());
    }

    #[test]
    fn numbers_compare_by_value() {
        let n = |t: &str| Number::parse(t).unwrap();
        let mut values = [n("10"), n("-1.5"), n("0"), n("9.99"), n("-10"), n("1E-130"), n("-0.001"), n("1e2")];
        values.sort();
        let sorted: Vec<String> = values.iter().map(Number::canonical).collect();
        assert_eq!(sorted, ["-10", "-1.5", "-0.001", "0", &format!("0.{}1", "0".repeat(129)), "9.99", "10", "100"]);
        assert_eq!(n("1.0"), n("1"));
        assert_eq!(n("1.0").cmp(&n("1")), Ordering::Equal);
        assert!(n("-2") < n("-1"));
    }

    #[test]
    fn order_keys_sort_as_the_numbers() {
        let texts = [
            "-1e125", "-100", "-10", "-9.99", "-1.5", "-1.05", "-1", "-0.15", "-0.1", "-1e-130", "0", "1e-130", "0.1",
            "0.15", "1", "1.05", "1.5", "9.99", "10", "100", "1e125",
        ];
        let keys: Vec<Vec<u8>> = texts.iter().map(|t| Number::parse(t).unwrap().order_key()).collect();
        for pair in keys.windows(2) {
            assert!(pair[0] < pair[1], "{pair:?}");
        }
        assert_eq!(Number::parse("1.0").unwrap().order_key(), Number::parse("1").unwrap().order_key());
    }

    #[test]
    fn sizes_count_base_100_digits() {
        let size = |t: &str| Number::parse(t).unwrap().size();
        assert_eq!(size("0"), 1);
        assert_eq!(size("1"), 2);
        assert_eq!(size("12"), 2);
        assert_eq!(size("123"), 3);
        assert_eq!(size("100"), 2, "100 is one base-100 digit");
        assert_eq!(size("1.5"), 3, "one pair each side of the point");
        assert_eq!(size("-1"), 3);
        assert_eq!(size(&"9".repeat(38)), 20);
    }
}
