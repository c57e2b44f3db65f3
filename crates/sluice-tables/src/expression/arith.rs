//! Exact decimal addition and subtraction of DynamoDB numbers, for `SET a =
//! b + c`, `SET a = b - c` and `ADD`. The operands are at most 38 digits
//! each within DynamoDB's magnitudes, so the exact result stays a few
//! hundred digits long; it is then checked as a stored number is. A result
//! needing more than 38 digits is refused with DynamoDB's (odd) overflow
//! message, as DynamoDB refuses it.

use std::cmp::Ordering;

use sluice_model::dynamodb::number::{Number, NumberError};

use crate::error::{TablesError, TablesResult};

/// `a + b`, exactly.
pub(super) fn add(a: &Number, b: &Number) -> TablesResult<Number> {
    combine(Decimal::of(a), Decimal::of(b))
}

/// `a - b`, exactly.
pub(super) fn subtract(a: &Number, b: &Number) -> TablesResult<Number> {
    let mut b = Decimal::of(b);
    b.negative = !b.negative;
    combine(Decimal::of(a), b)
}

/// `sign digits x 10^-scale`, digits most significant first.
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    scale: usize,
}

impl Decimal {
    fn of(number: &Number) -> Self {
        let text = number.canonical();
        let (negative, body) = match text.strip_prefix('-') {
            Some(body) => (true, body),
            None => (false, text.as_str()),
        };
        let (integer, fraction) = body.split_once('.').unwrap_or((body, ""));
        let digits = integer.bytes().chain(fraction.bytes()).map(|b| b - b'0').collect();
        Self { negative, digits, scale: fraction.len() }
    }

    /// The same value with `scale` digits after the point and at least
    /// `width` digits in all.
    fn aligned(mut self, scale: usize, width: usize) -> Self {
        self.digits.resize(self.digits.len() + scale - self.scale, 0);
        self.scale = scale;
        if self.digits.len() < width {
            let mut padded = vec![0; width - self.digits.len()];
            padded.append(&mut self.digits);
            self.digits = padded;
        }
        self
    }
}

fn combine(a: Decimal, b: Decimal) -> TablesResult<Number> {
    let scale = a.scale.max(b.scale);
    let width = (a.digits.len() - a.scale).max(b.digits.len() - b.scale) + scale;
    let (a, b) = (a.aligned(scale, width), b.aligned(scale, width));
    let (negative, digits) = if a.negative == b.negative {
        (a.negative, sum(&a.digits, &b.digits))
    } else if a.digits.cmp(&b.digits) == Ordering::Less {
        (b.negative, difference(&b.digits, &a.digits))
    } else {
        (a.negative, difference(&a.digits, &b.digits))
    };
    let mut text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    text.insert(text.len() - scale, '.');
    if negative {
        text.insert(0, '-');
    }
    Number::parse(&text).map_err(|error| {
        TablesError::validation(match error {
            NumberError::TooManyDigits => NumberError::Overflow.to_string(),
            other => other.to_string(),
        })
    })
}

/// `a + b` for digit strings of one length; one digit longer.
fn sum(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut result = vec![0; a.len() + 1];
    let mut carry = 0;
    for i in (0..a.len()).rev() {
        let total = a[i] + b[i] + carry;
        result[i + 1] = total % 10;
        carry = total / 10;
    }
    result[0] = carry;
    result
}

/// `a - b` for digit strings of one length, `a >= b`.
fn difference(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut result = vec![0; a.len()];
    let mut borrow = 0;
    for i in (0..a.len()).rev() {
        let (x, y) = (a[i], b[i] + borrow);
        (result[i], borrow) = if x >= y { (x - y, 0) } else { (x + 10 - y, 1) };
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Number {
        Number::parse(text).unwrap()
    }

    #[test]
    fn sums_and_differences_are_exact() {
        for (a, b, total, diff) in [
            ("0.1", "0.2", "0.3", "-0.1"),
            ("1", "10000000000000000000000", "10000000000000000000001", "-9999999999999999999999"),
            ("-5", "3", "-2", "-8"),
            ("5", "-5", "0", "10"),
            ("-1.25", "-0.75", "-2", "-0.5"),
            ("999", "1", "1000", "998"),
            ("0", "0", "0", "0"),
            ("1e-130", "1e-130", "0.2e-129", "0"),
            ("123.456", "0.0004", "123.4564", "123.4556"),
            ("1e20", "1e-10", "100000000000000000000.0000000001", "99999999999999999999.9999999999"),
        ] {
            assert_eq!(add(&n(a), &n(b)).unwrap(), n(total), "{a} + {b}");
            assert_eq!(subtract(&n(a), &n(b)).unwrap(), n(diff), "{a} - {b}");
        }
    }

    #[test]
    fn results_out_of_range_are_refused_as_dynamodb_refuses_them() {
        let overflow = "Number overflow. Attempting to store a number with magnitude larger than supported range";
        for (a, b) in [("9e125", "9e125"), ("1e50", "1"), ("-9.9e125", "-9e125")] {
            assert_eq!(add(&n(a), &n(b)).unwrap_err().to_string(), overflow, "{a} + {b}");
        }
        assert_eq!(subtract(&n("9e125"), &n("-9e125")).unwrap_err().to_string(), overflow);
        assert_eq!(subtract(&n("1e50"), &n("1")).unwrap_err().to_string(), overflow);
    }
}
