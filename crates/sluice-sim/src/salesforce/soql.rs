//! A parser and evaluator for the subset of SOQL that the Salesforce
//! simulator serves:
//!
//! ```text
//! SELECT field[, field...] | COUNT() | COUNT(Id)
//! FROM ObjectName
//! [WHERE condition]
//! [ORDER BY field [ASC|DESC] [NULLS FIRST|NULLS LAST][, ...]]
//! [LIMIT n] [OFFSET n]
//! ```
//!
//! Keywords and field names are case-insensitive, as in Salesforce. Errors
//! carry Salesforce's codes (`MALFORMED_QUERY`, `INVALID_FIELD`) and point at
//! the offending token the way Salesforce does
//! (`ERROR at Row:1:Column:41`).

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value as JsonValue};
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Error code of a query that does not parse.
pub const MALFORMED_QUERY: &str = "MALFORMED_QUERY";
/// Error code of a query that names a field the object lacks or filters a
/// field with a value of the wrong type.
pub const INVALID_FIELD: &str = "INVALID_FIELD";

/// Deepest nesting of `NOT` and parentheses that [`parse`] accepts; keeps the
/// recursive parser and evaluator far from the stack limit.
const MAX_NESTING: usize = 64;

/// Words that can name neither a field nor an object (Salesforce's reserved
/// SOQL keywords).
const RESERVED_WORDS: &[&str] = &[
    "AND", "ASC", "DESC", "EXCLUDES", "FIRST", "FROM", "GROUP", "HAVING", "IN", "INCLUDES", "LAST", "LIKE", "LIMIT",
    "NOT", "NULL", "NULLS", "OR", "SELECT", "WHERE", "WITH",
];

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// A parsed SOQL query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// The SELECT list, in the order written.
    pub select: Vec<SelectItem>,
    /// The object named in FROM, as written.
    pub object: String,
    /// The WHERE condition, if any.
    pub filter: Option<Condition>,
    /// The ORDER BY items, most significant first.
    pub order_by: Vec<OrderItem>,
    /// The LIMIT, if any.
    pub limit: Option<u64>,
    /// The OFFSET, if any.
    pub offset: Option<u64>,
    /// The query text that was parsed; [`validate`] quotes it in errors.
    pub text: String,
    /// Byte offset in `text` of every field reference, in textual order:
    /// selected fields, then filtered fields left to right, then ordered
    /// fields. Empty for a query built by hand (errors then point at
    /// Row:1:Column:1).
    pub field_offsets: Vec<usize>,
}

impl Query {
    /// True when the query selects `COUNT()` / `COUNT(Id)` rather than fields.
    pub fn is_count(&self) -> bool {
        self.select.iter().any(|item| matches!(item, SelectItem::Count))
    }
}

/// One element of the SELECT list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// A field or relationship path.
    Field(FieldPath),
    /// `COUNT()` or `COUNT(Id)`.
    Count,
}

/// A field reference as written, split on dots: `Account.Name` is
/// `["Account", "Name"]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath(pub Vec<String>);

impl FieldPath {
    /// The field name when the path has a single segment (no relationship).
    pub fn simple_name(&self) -> Option<&str> {
        match self.0.as_slice() {
            [name] => Some(name),
            _ => None,
        }
    }
}

impl From<&str> for FieldPath {
    /// Splits a dotted path such as `Account.Name`.
    fn from(path: &str) -> Self {
        FieldPath(path.split('.').map(str::to_string).collect())
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// One ORDER BY item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// The field to order by.
    pub field: FieldPath,
    /// `DESC` when true, `ASC` (the default) when false.
    pub descending: bool,
    /// `NULLS LAST` when true, `NULLS FIRST` when false. Defaults follow
    /// Salesforce: `ASC NULLS FIRST`, `DESC NULLS LAST`.
    pub nulls_last: bool,
}

/// A WHERE condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Both sides hold. A chain `a AND b AND c` is built as a balanced tree
    /// (`And(And(a, b), c)` for three operands).
    And(Box<Condition>, Box<Condition>),
    /// Either side holds; chains are built like `And` chains.
    Or(Box<Condition>, Box<Condition>),
    /// The inner condition does not hold.
    Not(Box<Condition>),
    /// `field op value`.
    Compare {
        /// The field compared.
        field: FieldPath,
        /// The comparison operator.
        op: CompareOp,
        /// The literal compared against.
        value: Literal,
    },
    /// `field LIKE 'pattern'`.
    Like {
        /// The field matched.
        field: FieldPath,
        /// The pattern with string escapes resolved, except that LIKE escapes
        /// stay escaped: `%` matches any sequence, `_` one character, and `\`
        /// makes the next character literal (`\%`, `\_`, `\\`).
        pattern: String,
    },
    /// `field IN (...)` or `field NOT IN (...)`.
    In {
        /// The field tested.
        field: FieldPath,
        /// The listed literals.
        values: Vec<Literal>,
        /// True for `NOT IN`.
        negated: bool,
    },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// Whether a field value ordered `ordering` against the literal satisfies
    /// the operator.
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            CompareOp::Eq => ordering == Ordering::Equal,
            CompareOp::Ne => ordering != Ordering::Equal,
            CompareOp::Lt => ordering == Ordering::Less,
            CompareOp::Le => ordering != Ordering::Greater,
            CompareOp::Gt => ordering == Ordering::Greater,
            CompareOp::Ge => ordering != Ordering::Less,
        }
    }

    /// The operator as SOQL writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// A literal value in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer or decimal, e.g. `42`, `-1.5`.
    Number(f64),
    /// A quoted string with escapes resolved.
    String(String),
    /// A date such as `2024-01-31`.
    Date(Date),
    /// A datetime such as `2024-01-31T10:00:00Z`, keeping its offset.
    DateTime(OffsetDateTime),
    /// A relative date such as `TODAY` or `LAST_N_DAYS:7`.
    Relative(RelativeDate),
}

/// A relative date literal, resolved against the evaluator's `now` (UTC days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelativeDate {
    /// The current UTC day.
    Today,
    /// The UTC day before today.
    Yesterday,
    /// The UTC day after today.
    Tomorrow,
    /// From the start of the day n days ago up to `now`.
    LastNDays(u32),
    /// From `now` to the end of the day n days ahead.
    NextNDays(u32),
}

/// A query error with Salesforce's error code and a message that points at the
/// offending position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SoqlError {
    /// `"MALFORMED_QUERY"` or `"INVALID_FIELD"`.
    pub code: &'static str,
    /// The query line, a caret line, `ERROR at Row:R:Column:C` and the reason.
    pub message: String,
}

/// The data type of a field, as far as filtering and ordering care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// The record id (compared case-sensitively, 15 or 18 characters).
    Id,
    /// Text of any kind (text, picklist, email, ...).
    String,
    /// A checkbox.
    Boolean,
    /// Any numeric field (int, double, currency, percent).
    Number,
    /// A date, stored as `YYYY-MM-DD`.
    Date,
    /// A datetime, stored as `2024-01-31T10:00:00.000+0000`.
    DateTime,
    /// A lookup to another record (an id).
    Reference,
}

impl FieldKind {
    /// The Salesforce name of the type, as used in error messages.
    pub fn soap_name(self) -> &'static str {
        match self {
            FieldKind::Id => "id",
            FieldKind::String => "string",
            FieldKind::Boolean => "boolean",
            FieldKind::Number => "double",
            FieldKind::Date => "date",
            FieldKind::DateTime => "dateTime",
            FieldKind::Reference => "reference",
        }
    }
}

/// Field metadata of the queried object, supplied by the caller.
pub trait FieldResolver {
    /// Canonical field name and kind for a name written in any case, or None
    /// if the object has no such field.
    fn resolve(&self, name: &str) -> Option<(String, FieldKind)>;
}

impl<F> FieldResolver for F
where
    F: Fn(&str) -> Option<(String, FieldKind)>,
{
    fn resolve(&self, name: &str) -> Option<(String, FieldKind)> {
        self(name)
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Builds an error pointing at byte `offset` of `text`, in Salesforce's layout:
/// the line, a caret under the position, `ERROR at Row:R:Column:C`, the reason.
fn error_at(code: &'static str, text: &str, offset: usize, reason: &str) -> SoqlError {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let row = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[line_start..line_end].trim_end_matches('\r');
    let lead = &text[line_start..offset];
    let column = lead.chars().count() + 1;
    let caret_pad: String = lead.chars().map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    SoqlError { code, message: format!("{line}\n{caret_pad}^\nERROR at Row:{row}:Column:{column}\n{reason}") }
}

// ---------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Word,
    Str,
    Number,
    Date,
    DateTime,
    Comma,
    LParen,
    RParen,
    Dot,
    Colon,
    Op(CompareOp),
}

/// A token: its kind and byte range in the query text.
#[derive(Debug, Clone, Copy)]
struct Token {
    kind: TokenKind,
    start: usize,
    end: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, SoqlError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let next = bytes.get(i + 1).copied();
        let (kind, end) = match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => {
                i += 1;
                continue;
            }
            b',' => (TokenKind::Comma, i + 1),
            b'(' => (TokenKind::LParen, i + 1),
            b')' => (TokenKind::RParen, i + 1),
            b'.' => (TokenKind::Dot, i + 1),
            b':' => (TokenKind::Colon, i + 1),
            b'=' => (TokenKind::Op(CompareOp::Eq), i + 1),
            b'!' if next == Some(b'=') => (TokenKind::Op(CompareOp::Ne), i + 2),
            b'<' => match next {
                Some(b'=') => (TokenKind::Op(CompareOp::Le), i + 2),
                Some(b'>') => (TokenKind::Op(CompareOp::Ne), i + 2),
                _ => (TokenKind::Op(CompareOp::Lt), i + 1),
            },
            b'>' => match next {
                Some(b'=') => (TokenKind::Op(CompareOp::Ge), i + 2),
                _ => (TokenKind::Op(CompareOp::Gt), i + 1),
            },
            b'\'' => (TokenKind::Str, string_end(text, i)?),
            b'0'..=b'9' if is_date_at(bytes, i) => {
                let mut end = i + 10;
                if matches!(bytes.get(end), Some(b'T' | b't')) {
                    end += 1;
                    while matches!(bytes.get(end), Some(b'0'..=b'9' | b':' | b'.' | b'+' | b'-' | b'Z' | b'z')) {
                        end += 1;
                    }
                    (TokenKind::DateTime, end)
                } else {
                    (TokenKind::Date, end)
                }
            }
            b'0'..=b'9' => (TokenKind::Number, number_end(bytes, i)),
            b'+' | b'-' if next.is_some_and(|n| n.is_ascii_digit()) => (TokenKind::Number, number_end(bytes, i + 1)),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let mut end = i + 1;
                while bytes.get(end).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
                    end += 1;
                }
                (TokenKind::Word, end)
            }
            _ => {
                let shown = text.get(i..).and_then(|rest| rest.chars().next()).unwrap_or('?');
                return Err(error_at(MALFORMED_QUERY, text, i, &format!("unexpected token: '{shown}'")));
            }
        };
        tokens.push(Token { kind, start: i, end });
        i = end;
    }
    Ok(tokens)
}

/// End (exclusive) of the string literal whose opening quote is at `start`.
fn string_end(text: &str, start: usize) -> Result<usize, SoqlError> {
    let bytes = text.as_bytes();
    let mut j = start + 1;
    loop {
        match bytes.get(j) {
            None => return Err(error_at(MALFORMED_QUERY, text, start, "unterminated string literal")),
            Some(b'\\') => j += 2,
            Some(b'\'') => return Ok(j + 1),
            Some(_) => j += 1,
        }
    }
}

/// End (exclusive) of the digits, optionally with a fraction, starting at `i`.
fn number_end(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    i
}

/// Whether `YYYY-MM-DD` starts at byte `i`.
fn is_date_at(bytes: &[u8], i: usize) -> bool {
    bytes.get(i..i + 10).is_some_and(|s| {
        s.iter().enumerate().all(|(k, c)| if k == 4 || k == 7 { *c == b'-' } else { c.is_ascii_digit() })
    })
}

// ---------------------------------------------------------------------------
// Date and datetime text
// ---------------------------------------------------------------------------

fn two_digits(bytes: &[u8], at: usize) -> Option<u8> {
    match bytes.get(at..at + 2)? {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Some((a - b'0') * 10 + (b - b'0')),
        _ => None,
    }
}

/// Parses exactly `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || !is_date_at(bytes, 0) {
        return None;
    }
    let year = i32::from(two_digits(bytes, 0)?) * 100 + i32::from(two_digits(bytes, 2)?);
    let month = Month::try_from(two_digits(bytes, 5)?).ok()?;
    Date::from_calendar_date(year, month, two_digits(bytes, 8)?).ok()
}

/// Parses `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm|±hhmm)`, the forms SOQL accepts
/// and Salesforce's own `2024-01-31T10:00:00.000+0000`.
fn parse_datetime(text: &str) -> Option<OffsetDateTime> {
    let bytes = text.as_bytes();
    let date = parse_date(text.get(..10)?)?;
    if !matches!(bytes.get(10), Some(b'T' | b't')) || bytes.get(13) != Some(&b':') || bytes.get(16) != Some(&b':') {
        return None;
    }
    let (hour, minute, second) = (two_digits(bytes, 11)?, two_digits(bytes, 14)?, two_digits(bytes, 17)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let digits_start = i;
        let mut scale = 100_000_000u32;
        while let Some(d) = bytes.get(i).filter(|d| d.is_ascii_digit()) {
            nanos += u32::from(d - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == digits_start || i - digits_start > 9 {
            return None;
        }
    }
    let offset = match bytes.get(i)? {
        b'Z' | b'z' => {
            i += 1;
            UtcOffset::UTC
        }
        sign @ (b'+' | b'-') => {
            let hours = two_digits(bytes, i + 1)?;
            i += 3;
            if bytes.get(i) == Some(&b':') {
                i += 1;
            }
            let minutes = two_digits(bytes, i)?;
            i += 2;
            let factor = if *sign == b'-' { -1 } else { 1 };
            UtcOffset::from_hms(factor * i8::try_from(hours).ok()?, factor * i8::try_from(minutes).ok()?, 0).ok()?
        }
        _ => return None,
    };
    if i != bytes.len() {
        return None;
    }
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// The UTC calendar date of an instant.
fn utc_date(moment: OffsetDateTime) -> Date {
    moment.checked_to_offset(UtcOffset::UTC).unwrap_or(moment).date()
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

/// Parses a SOQL query. Errors have code `MALFORMED_QUERY`.
pub fn parse(text: &str) -> Result<Query, SoqlError> {
    let tokens = lex(text)?;
    let mut parser = Parser { text, tokens, pos: 0, depth: 0, field_offsets: Vec::new() };
    parser.query()
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    field_offsets: Vec<usize>,
}

impl<'a> Parser<'a> {
    fn query(&mut self) -> Result<Query, SoqlError> {
        self.expect_keyword("SELECT")?;
        let select = self.select_list()?;
        self.expect_keyword("FROM")?;
        let object = self.name()?;
        let filter = if self.eat_keyword("WHERE") { Some(self.condition()?) } else { None };
        let mut order_by = Vec::new();
        if self.eat_keyword("ORDER") {
            self.expect_keyword("BY")?;
            order_by = self.order_list()?;
        }
        let limit = if self.eat_keyword("LIMIT") { Some(self.count_value("LIMIT")?) } else { None };
        let offset = if self.eat_keyword("OFFSET") { Some(self.count_value("OFFSET")?) } else { None };
        if self.peek().is_some() {
            return Err(self.unexpected());
        }
        Ok(Query {
            select,
            object: object.to_string(),
            filter,
            order_by,
            limit,
            offset,
            text: self.text.to_string(),
            field_offsets: std::mem::take(&mut self.field_offsets),
        })
    }

    fn select_list(&mut self) -> Result<Vec<SelectItem>, SoqlError> {
        let mut items = Vec::new();
        let mut count_at = None;
        loop {
            let is_count = self.peek_keyword("COUNT")
                && self.tokens.get(self.pos + 1).is_some_and(|t| t.kind == TokenKind::LParen);
            if is_count {
                let count = self.advance_or_unexpected()?;
                count_at.get_or_insert(count.start);
                self.expect(TokenKind::LParen)?;
                if let Some(argument) = self.peek().filter(|t| t.kind == TokenKind::Word) {
                    if !self.text_of(&argument).eq_ignore_ascii_case("Id") {
                        return Err(self.error(
                            argument.start,
                            &format!("COUNT({}) is not supported: use COUNT() or COUNT(Id)", self.text_of(&argument)),
                        ));
                    }
                    self.pos += 1;
                }
                self.expect(TokenKind::RParen)?;
                items.push(SelectItem::Count);
            } else {
                items.push(SelectItem::Field(self.field_path()?));
            }
            if !self.eat(TokenKind::Comma) {
                break;
            }
        }
        match count_at {
            Some(at) if items.len() > 1 => Err(self.error(at, "COUNT() must be the only element in the SELECT list")),
            _ => Ok(items),
        }
    }

    fn order_list(&mut self) -> Result<Vec<OrderItem>, SoqlError> {
        let mut items = Vec::new();
        loop {
            let field = self.field_path()?;
            let descending = if self.eat_keyword("DESC") {
                true
            } else {
                self.eat_keyword("ASC");
                false
            };
            let nulls_last = if self.eat_keyword("NULLS") {
                if self.eat_keyword("LAST") {
                    true
                } else if self.eat_keyword("FIRST") {
                    false
                } else {
                    return Err(self.unexpected());
                }
            } else {
                descending
            };
            items.push(OrderItem { field, descending, nulls_last });
            if !self.eat(TokenKind::Comma) {
                return Ok(items);
            }
        }
    }

    /// A non-negative integer for LIMIT or OFFSET.
    fn count_value(&mut self, clause: &str) -> Result<u64, SoqlError> {
        let token = self.advance_or_unexpected()?;
        let text = self.text_of(&token);
        if token.kind != TokenKind::Number || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.unexpected_token(&token));
        }
        text.parse::<u64>().map_err(|_| self.error(token.start, &format!("{clause} value is too large: {text}")))
    }

    /// `unary (AND unary)*` or `unary (OR unary)*`; mixing AND and OR without
    /// parentheses is rejected, as Salesforce does.
    fn condition(&mut self) -> Result<Condition, SoqlError> {
        let first = self.unary()?;
        let (joiner, other): (&str, &str) = if self.peek_keyword("AND") {
            ("AND", "OR")
        } else if self.peek_keyword("OR") {
            ("OR", "AND")
        } else {
            return Ok(first);
        };
        let mut rest = Vec::new();
        while self.eat_keyword(joiner) {
            rest.push(self.unary()?);
        }
        if self.peek_keyword(other) {
            return Err(self.unexpected());
        }
        let is_and = joiner == "AND";
        Ok(balanced(first, rest, &|left, right| {
            if is_and {
                Condition::And(Box::new(left), Box::new(right))
            } else {
                Condition::Or(Box::new(left), Box::new(right))
            }
        }))
    }

    fn unary(&mut self) -> Result<Condition, SoqlError> {
        let nested = self.peek_keyword("NOT") || self.peek().is_some_and(|t| t.kind == TokenKind::LParen);
        if !nested {
            return self.predicate();
        }
        if self.depth >= MAX_NESTING {
            let at = self.peek().map_or(0, |t| t.start);
            return Err(self.error(at, &format!("conditions are nested more than {MAX_NESTING} deep")));
        }
        self.depth += 1;
        let result = if self.eat_keyword("NOT") {
            self.unary().map(|inner| Condition::Not(Box::new(inner)))
        } else {
            self.pos += 1; // the opening parenthesis
            self.condition().and_then(|inner| self.expect(TokenKind::RParen).map(|_| inner))
        };
        self.depth -= 1;
        result
    }

    fn predicate(&mut self) -> Result<Condition, SoqlError> {
        let field = self.field_path()?;
        let token = self.advance_or_unexpected()?;
        match token.kind {
            TokenKind::Op(op) => Ok(Condition::Compare { field, op, value: self.literal()? }),
            TokenKind::Word if self.is_keyword(&token, "LIKE") => {
                let pattern = self.advance_or_unexpected()?;
                if pattern.kind != TokenKind::Str {
                    return Err(self.unexpected_token(&pattern));
                }
                Ok(Condition::Like { field, pattern: self.string_value(&pattern, true)? })
            }
            TokenKind::Word if self.is_keyword(&token, "IN") => {
                Ok(Condition::In { field, values: self.literal_list()?, negated: false })
            }
            TokenKind::Word if self.is_keyword(&token, "NOT") => {
                self.expect_keyword("IN")?;
                Ok(Condition::In { field, values: self.literal_list()?, negated: true })
            }
            _ => Err(self.unexpected_token(&token)),
        }
    }

    fn literal_list(&mut self) -> Result<Vec<Literal>, SoqlError> {
        self.expect(TokenKind::LParen)?;
        let mut values = vec![self.literal()?];
        while self.eat(TokenKind::Comma) {
            values.push(self.literal()?);
        }
        self.expect(TokenKind::RParen)?;
        Ok(values)
    }

    fn literal(&mut self) -> Result<Literal, SoqlError> {
        let token = self.advance_or_unexpected()?;
        let text = self.text_of(&token);
        match token.kind {
            TokenKind::Str => Ok(Literal::String(self.string_value(&token, false)?)),
            TokenKind::Number => text
                .parse::<f64>()
                .map(Literal::Number)
                .map_err(|_| self.error(token.start, &format!("invalid number: {text}"))),
            TokenKind::Date => parse_date(text)
                .map(Literal::Date)
                .ok_or_else(|| self.error(token.start, &format!("invalid date: {text}"))),
            TokenKind::DateTime => parse_datetime(text)
                .map(Literal::DateTime)
                .ok_or_else(|| self.error(token.start, &format!("invalid datetime: {text}"))),
            TokenKind::Word => {
                let word = text.to_ascii_uppercase();
                match word.as_str() {
                    "NULL" => Ok(Literal::Null),
                    "TRUE" => Ok(Literal::Bool(true)),
                    "FALSE" => Ok(Literal::Bool(false)),
                    "TODAY" => Ok(Literal::Relative(RelativeDate::Today)),
                    "YESTERDAY" => Ok(Literal::Relative(RelativeDate::Yesterday)),
                    "TOMORROW" => Ok(Literal::Relative(RelativeDate::Tomorrow)),
                    "LAST_N_DAYS" => Ok(Literal::Relative(RelativeDate::LastNDays(self.day_count()?))),
                    "NEXT_N_DAYS" => Ok(Literal::Relative(RelativeDate::NextNDays(self.day_count()?))),
                    _ => Err(self.unexpected_token(&token)),
                }
            }
            _ => Err(self.unexpected_token(&token)),
        }
    }

    /// The `:n` after `LAST_N_DAYS` / `NEXT_N_DAYS`.
    fn day_count(&mut self) -> Result<u32, SoqlError> {
        self.expect(TokenKind::Colon)?;
        let token = self.advance_or_unexpected()?;
        let text = self.text_of(&token);
        if token.kind != TokenKind::Number || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.unexpected_token(&token));
        }
        text.parse::<u32>().map_err(|_| self.error(token.start, &format!("day count is too large: {text}")))
    }

    /// Resolves the escapes of a string token. In a LIKE pattern, `\%`, `\_`
    /// and `\\` stay escaped for the pattern matcher.
    fn string_value(&self, token: &Token, like: bool) -> Result<String, SoqlError> {
        let body = self.text.get(token.start + 1..token.end - 1).unwrap_or("");
        let mut out = String::with_capacity(body.len());
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some('t' | 'T') => out.push('\t'),
                Some('r' | 'R') => out.push('\r'),
                Some('b' | 'B') => out.push('\u{8}'),
                Some('f' | 'F') => out.push('\u{c}'),
                Some('\'') => out.push('\''),
                Some('"') => out.push('"'),
                Some(e @ ('\\' | '%' | '_')) => {
                    if like {
                        out.push('\\');
                    }
                    out.push(e);
                }
                Some(other) => {
                    return Err(
                        self.error(token.start, &format!("invalid escape sequence '\\{other}' in string literal"))
                    )
                }
                None => return Err(self.error(token.start, "invalid escape sequence at end of string literal")),
            }
        }
        Ok(out)
    }

    /// A dotted field path; records where it starts in `field_offsets`.
    fn field_path(&mut self) -> Result<FieldPath, SoqlError> {
        let start = self.peek().map(|t| t.start);
        let mut segments = vec![self.name()?.to_string()];
        while self.eat(TokenKind::Dot) {
            segments.push(self.name()?.to_string());
        }
        if let Some(start) = start {
            self.field_offsets.push(start);
        }
        Ok(FieldPath(segments))
    }

    /// A field or object name: a word that is not a reserved keyword.
    fn name(&mut self) -> Result<&'a str, SoqlError> {
        let token = self.advance_or_unexpected()?;
        let text = self.text_of(&token);
        if token.kind != TokenKind::Word || RESERVED_WORDS.iter().any(|w| w.eq_ignore_ascii_case(text)) {
            return Err(self.unexpected_token(&token));
        }
        Ok(text)
    }

    fn text_of(&self, token: &Token) -> &'a str {
        self.text.get(token.start..token.end).unwrap_or("")
    }

    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.pos).copied()
    }

    fn is_keyword(&self, token: &Token, keyword: &str) -> bool {
        token.kind == TokenKind::Word && self.text_of(token).eq_ignore_ascii_case(keyword)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|t| self.is_keyword(&t, keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek_keyword(keyword);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), SoqlError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn eat(&mut self, kind: TokenKind) -> bool {
        let found = self.peek().is_some_and(|t| t.kind == kind);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, kind: TokenKind) -> Result<Token, SoqlError> {
        match self.peek() {
            Some(token) if token.kind == kind => {
                self.pos += 1;
                Ok(token)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn advance_or_unexpected(&mut self) -> Result<Token, SoqlError> {
        let token = self.peek().ok_or_else(|| self.unexpected())?;
        self.pos += 1;
        Ok(token)
    }

    fn error(&self, offset: usize, reason: &str) -> SoqlError {
        error_at(MALFORMED_QUERY, self.text, offset, reason)
    }

    fn unexpected_token(&self, token: &Token) -> SoqlError {
        self.error(token.start, &format!("unexpected token: '{}'", self.text_of(token)))
    }

    /// Error for the next token; at the end of the query, Salesforce points at
    /// the last token instead.
    fn unexpected(&self) -> SoqlError {
        match self.peek().or_else(|| self.pos.checked_sub(1).and_then(|i| self.tokens.get(i).copied())) {
            Some(token) => self.unexpected_token(&token),
            None => self.error(self.text.len(), "unexpected end of query"),
        }
    }
}

/// Folds `first` and the operands after it into a balanced tree (left half
/// rounded up), keeping their order; limits tree depth for long chains.
fn balanced(first: Condition, mut rest: Vec<Condition>, join: &dyn Fn(Condition, Condition) -> Condition) -> Condition {
    if rest.is_empty() {
        return first;
    }
    let left_len = (rest.len() + 1).div_ceil(2);
    let mut right = rest.split_off(left_len - 1).into_iter();
    let left = balanced(first, rest, join);
    match right.next() {
        Some(right_first) => join(left, balanced(right_first, right.collect(), join)),
        None => left,
    }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// How a field is used, for type checks.
enum FieldUse<'q> {
    Plain(&'q FieldPath),
    Compared(&'q FieldPath, Vec<&'q Literal>),
    Liked(&'q FieldPath),
}

fn collect_filter_uses<'q>(condition: &'q Condition, uses: &mut Vec<FieldUse<'q>>) {
    match condition {
        Condition::And(left, right) | Condition::Or(left, right) => {
            collect_filter_uses(left, uses);
            collect_filter_uses(right, uses);
        }
        Condition::Not(inner) => collect_filter_uses(inner, uses),
        Condition::Compare { field, value, .. } => uses.push(FieldUse::Compared(field, vec![value])),
        Condition::Like { field, .. } => uses.push(FieldUse::Liked(field)),
        Condition::In { field, values, .. } => uses.push(FieldUse::Compared(field, values.iter().collect())),
    }
}

/// Checks that every single-segment field that is selected, filtered or
/// ordered exists on the object, and that filters fit the field types.
/// Multi-segment (relationship) paths are left to the caller. Errors have
/// code `INVALID_FIELD` and point at the field.
pub fn validate(query: &Query, resolver: &dyn FieldResolver) -> Result<(), SoqlError> {
    let mut uses = Vec::new();
    for item in &query.select {
        if let SelectItem::Field(path) = item {
            uses.push(FieldUse::Plain(path));
        }
    }
    if let Some(filter) = &query.filter {
        collect_filter_uses(filter, &mut uses);
    }
    uses.extend(query.order_by.iter().map(|item| FieldUse::Plain(&item.field)));

    for (index, field_use) in uses.iter().enumerate() {
        let path = match field_use {
            FieldUse::Plain(path) | FieldUse::Compared(path, _) | FieldUse::Liked(path) => path,
        };
        let Some(name) = path.simple_name() else { continue };
        let offset = query.field_offsets.get(index).copied().unwrap_or(0);
        let fail = |reason: String| error_at(INVALID_FIELD, &query.text, offset, &reason);
        let Some((canonical, kind)) = resolver.resolve(name) else {
            return Err(fail(format!(
                "No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to \
                 append the '__c' after the custom field name. Please reference your WSDL or the describe call for \
                 the appropriate names.",
                query.object
            )));
        };
        match field_use {
            FieldUse::Plain(_) => {}
            FieldUse::Liked(_) => {
                if kind != FieldKind::String {
                    return Err(fail(format!(
                        "invalid operator on field '{canonical}': LIKE only applies to string fields, not {}",
                        kind.soap_name()
                    )));
                }
            }
            FieldUse::Compared(_, values) => {
                if let Some(value) = values.iter().find(|value| !literal_fits(kind, value)) {
                    let quoting = match (kind, value) {
                        (FieldKind::Id | FieldKind::Reference | FieldKind::String, _) => {
                            " and should be enclosed in quotes"
                        }
                        (_, Literal::String(_)) => " and should not be enclosed in quotes",
                        _ => "",
                    };
                    return Err(fail(format!(
                        "value of filter criterion for field '{canonical}' must be of type {}{quoting}",
                        kind.soap_name()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Whether a literal may be compared with a field of `kind`.
fn literal_fits(kind: FieldKind, literal: &Literal) -> bool {
    matches!(
        (kind, literal),
        (_, Literal::Null)
            | (FieldKind::Id | FieldKind::Reference | FieldKind::String, Literal::String(_))
            | (FieldKind::Boolean, Literal::Bool(_))
            | (FieldKind::Number, Literal::Number(_))
            | (FieldKind::Date | FieldKind::DateTime, Literal::Date(_) | Literal::DateTime(_) | Literal::Relative(_))
    )
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

/// A record's field value, typed by the field's kind.
#[derive(Debug, Clone, PartialEq)]
enum FieldValue {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Id(String),
    Date(Date),
    DateTime(OffsetDateTime),
}

impl FieldValue {
    fn is_null(&self) -> bool {
        matches!(self, FieldValue::Null)
    }

    /// Text of unknown kind read as a date or datetime, when it is one.
    fn as_temporal(&self) -> Option<FieldValue> {
        match self {
            FieldValue::Text(text) => {
                parse_datetime(text).map(FieldValue::DateTime).or_else(|| parse_date(text).map(FieldValue::Date))
            }
            _ => None,
        }
    }
}

fn get_ignoring_case<'r>(record: &'r Map<String, JsonValue>, name: &str) -> Option<&'r JsonValue> {
    record.get(name).or_else(|| record.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value))
}

/// The value of `path` in `record`: a single segment through the resolver,
/// several segments through nested objects (or a flat `A.B` key).
fn field_value(path: &FieldPath, record: &Map<String, JsonValue>, resolver: &dyn FieldResolver) -> FieldValue {
    match path.0.as_slice() {
        [name] => match resolver.resolve(name) {
            Some((canonical, kind)) => to_field_value(get_ignoring_case(record, &canonical), Some(kind)),
            None => to_field_value(get_ignoring_case(record, name), None),
        },
        [first, rest @ ..] => {
            let mut current = get_ignoring_case(record, first);
            for segment in rest {
                current = match current {
                    Some(JsonValue::Object(inner)) => get_ignoring_case(inner, segment),
                    _ => None,
                };
            }
            let value = current.or_else(|| get_ignoring_case(record, &path.to_string()));
            to_field_value(value, None)
        }
        [] => FieldValue::Null,
    }
}

fn to_field_value(json: Option<&JsonValue>, kind: Option<FieldKind>) -> FieldValue {
    let Some(json) = json else { return FieldValue::Null };
    match (kind, json) {
        (_, JsonValue::Null) => FieldValue::Null,
        (Some(FieldKind::Id | FieldKind::Reference), JsonValue::String(s)) => FieldValue::Id(s.clone()),
        (Some(FieldKind::Date), JsonValue::String(s)) => parse_date(s)
            .or_else(|| parse_datetime(s).map(utc_date))
            .map_or_else(|| FieldValue::Text(s.clone()), FieldValue::Date),
        (Some(FieldKind::DateTime), JsonValue::String(s)) => parse_datetime(s)
            .or_else(|| parse_date(s).map(|d| d.midnight().assume_utc()))
            .map_or_else(|| FieldValue::Text(s.clone()), FieldValue::DateTime),
        (Some(FieldKind::Number), JsonValue::String(s)) => {
            s.trim().parse::<f64>().map_or_else(|_| FieldValue::Text(s.clone()), FieldValue::Number)
        }
        (Some(FieldKind::Boolean), JsonValue::String(s)) if s.eq_ignore_ascii_case("true") => FieldValue::Bool(true),
        (Some(FieldKind::Boolean), JsonValue::String(s)) if s.eq_ignore_ascii_case("false") => FieldValue::Bool(false),
        (_, JsonValue::Bool(b)) => FieldValue::Bool(*b),
        (_, JsonValue::Number(n)) => n.as_f64().map_or(FieldValue::Null, FieldValue::Number),
        (_, JsonValue::String(s)) => FieldValue::Text(s.clone()),
        (_, other) => FieldValue::Text(other.to_string()),
    }
}

/// Compares text case-insensitively.
fn cmp_ignoring_case(a: &str, b: &str) -> Ordering {
    a.chars().flat_map(char::to_lowercase).cmp(b.chars().flat_map(char::to_lowercase))
}

/// Compares ids case-sensitively; a 15-character id equals the 18-character
/// id it starts.
fn cmp_ids(a: &str, b: &str) -> Ordering {
    let short_form_of = |short: &str, long: &str| short.len() == 15 && long.len() == 18 && long.starts_with(short);
    if a == b || short_form_of(a, b) || short_form_of(b, a) {
        Ordering::Equal
    } else {
        a.cmp(b)
    }
}

/// The inclusive UTC range of instants a relative date literal stands for.
fn relative_range(relative: RelativeDate, now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let now = now.checked_to_offset(UtcOffset::UTC).unwrap_or(now);
    let today = now.date();
    let shift =
        |days: i64| today.checked_add(Duration::days(days)).unwrap_or(if days < 0 { Date::MIN } else { Date::MAX });
    let day_start = |day: Date| day.midnight().assume_utc();
    let day_end = |day: Date| day.with_time(Time::MAX).assume_utc();
    match relative {
        RelativeDate::Today => (day_start(today), day_end(today)),
        RelativeDate::Yesterday => (day_start(shift(-1)), day_end(shift(-1))),
        RelativeDate::Tomorrow => (day_start(shift(1)), day_end(shift(1))),
        RelativeDate::LastNDays(n) => (day_start(shift(-i64::from(n))), now),
        RelativeDate::NextNDays(n) => (now, day_end(shift(i64::from(n)))),
    }
}

/// Where a value lies relative to a range: before, inside, or after.
fn position_in_range(value: &FieldValue, (start, end): (OffsetDateTime, OffsetDateTime)) -> Option<Ordering> {
    match value {
        FieldValue::Date(day) => Some(if *day < utc_date(start) {
            Ordering::Less
        } else if *day > utc_date(end) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }),
        FieldValue::DateTime(moment) => Some(if *moment < start {
            Ordering::Less
        } else if *moment > end {
            Ordering::Greater
        } else {
            Ordering::Equal
        }),
        FieldValue::Text(_) => value.as_temporal().and_then(|v| position_in_range(&v, (start, end))),
        _ => None,
    }
}

/// How a non-null field value orders against a non-null, non-relative literal;
/// None when they cannot be compared.
fn order_against_literal(value: &FieldValue, literal: &Literal) -> Option<Ordering> {
    match (value, literal) {
        (FieldValue::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        (FieldValue::Number(a), Literal::Number(b)) => a.partial_cmp(b),
        (FieldValue::Text(a), Literal::String(b)) => Some(cmp_ignoring_case(a, b)),
        (FieldValue::Id(a), Literal::String(b)) => Some(cmp_ids(a, b)),
        (FieldValue::Date(a), Literal::Date(b)) => Some(a.cmp(b)),
        (FieldValue::Date(a), Literal::DateTime(b)) => Some(a.cmp(&utc_date(*b))),
        (FieldValue::DateTime(a), Literal::Date(b)) => Some(utc_date(*a).cmp(b)),
        (FieldValue::DateTime(a), Literal::DateTime(b)) => Some(a.cmp(b)),
        (FieldValue::Text(_), Literal::Date(_) | Literal::DateTime(_)) => {
            value.as_temporal().and_then(|v| order_against_literal(&v, literal))
        }
        _ => None,
    }
}

/// Whether `value op literal` holds, with Salesforce's null rules: a null
/// field equals only `null`, and is `!=` (and `NOT IN`) every other value.
fn compare_value(value: &FieldValue, op: CompareOp, literal: &Literal, now: OffsetDateTime) -> bool {
    let ordering = match literal {
        Literal::Null => {
            return match op {
                CompareOp::Eq => value.is_null(),
                CompareOp::Ne => !value.is_null(),
                _ => false,
            }
        }
        // SOQL, unlike SQL, counts a null field as different from any value.
        _ if value.is_null() => return op == CompareOp::Ne,
        Literal::Relative(relative) => position_in_range(value, relative_range(*relative, now)),
        _ => order_against_literal(value, literal),
    };
    ordering.is_some_and(|ordering| op.holds(ordering))
}

/// One element of a compiled LIKE pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LikePart {
    AnySequence,
    AnyChar,
    Char(char),
}

/// Case-insensitive LIKE: `%` any sequence, `_` one character, `\` escapes.
fn like_matches(pattern: &str, text: &str) -> bool {
    let mut parts = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => parts.push(LikePart::AnySequence),
            '_' => parts.push(LikePart::AnyChar),
            '\\' => {
                let literal = chars.next().unwrap_or('\\');
                parts.extend(literal.to_lowercase().map(LikePart::Char));
            }
            other => parts.extend(other.to_lowercase().map(LikePart::Char)),
        }
    }
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match parts.get(p) {
            Some(LikePart::AnyChar) => {
                p += 1;
                t += 1;
            }
            Some(LikePart::Char(c)) if text.get(t) == Some(c) => {
                p += 1;
                t += 1;
            }
            Some(LikePart::AnySequence) => {
                backtrack = Some((p, t));
                p += 1;
            }
            _ => match backtrack {
                Some((star, consumed)) => {
                    p = star + 1;
                    t = consumed + 1;
                    backtrack = Some((star, consumed + 1));
                }
                None => return false,
            },
        }
    }
    parts.get(p..).unwrap_or_default().iter().all(|part| *part == LikePart::AnySequence)
}

/// Whether `record` satisfies `condition`. `now` anchors relative dates
/// (`TODAY`, `LAST_N_DAYS:n`, ...), whose days are UTC days.
pub fn matches(
    condition: &Condition,
    record: &Map<String, JsonValue>,
    resolver: &dyn FieldResolver,
    now: OffsetDateTime,
) -> bool {
    match condition {
        Condition::And(left, right) => matches(left, record, resolver, now) && matches(right, record, resolver, now),
        Condition::Or(left, right) => matches(left, record, resolver, now) || matches(right, record, resolver, now),
        Condition::Not(inner) => !matches(inner, record, resolver, now),
        Condition::Compare { field, op, value } => {
            compare_value(&field_value(field, record, resolver), *op, value, now)
        }
        Condition::Like { field, pattern } => match field_value(field, record, resolver) {
            FieldValue::Text(text) | FieldValue::Id(text) => like_matches(pattern, &text),
            _ => false,
        },
        Condition::In { field, values, negated } => {
            let value = field_value(field, record, resolver);
            let listed = values.iter().any(|literal| compare_value(&value, CompareOp::Eq, literal, now));
            if *negated {
                !listed
            } else {
                listed
            }
        }
    }
}

/// Rank of a value's type, for ordering values of different types.
fn type_rank(value: &FieldValue) -> u8 {
    match value {
        FieldValue::Null => 0,
        FieldValue::Bool(_) => 1,
        FieldValue::Number(_) => 2,
        FieldValue::Date(_) | FieldValue::DateTime(_) => 3,
        FieldValue::Id(_) => 4,
        FieldValue::Text(_) => 5,
    }
}

/// Ascending order of two non-null values.
fn cmp_values(a: &FieldValue, b: &FieldValue) -> Ordering {
    match (a, b) {
        (FieldValue::Bool(x), FieldValue::Bool(y)) => x.cmp(y),
        (FieldValue::Number(x), FieldValue::Number(y)) => x.total_cmp(y),
        (FieldValue::Text(x), FieldValue::Text(y)) => cmp_ignoring_case(x, y),
        (FieldValue::Id(x), FieldValue::Id(y)) => cmp_ids(x, y),
        (FieldValue::Date(x), FieldValue::Date(y)) => x.cmp(y),
        (FieldValue::DateTime(x), FieldValue::DateTime(y)) => x.cmp(y),
        (FieldValue::Date(x), FieldValue::DateTime(y)) => x.cmp(&utc_date(*y)),
        (FieldValue::DateTime(x), FieldValue::Date(y)) => utc_date(*x).cmp(y),
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

/// Orders two records by ORDER BY items: text case-insensitively, nulls
/// first or last as each item says. Equal records compare Equal, so a stable
/// sort keeps their input order.
pub fn compare_records(
    order: &[OrderItem],
    a: &Map<String, JsonValue>,
    b: &Map<String, JsonValue>,
    resolver: &dyn FieldResolver,
) -> Ordering {
    for item in order {
        let (left, right) = (field_value(&item.field, a, resolver), field_value(&item.field, b, resolver));
        let null_first = if item.nulls_last { Ordering::Greater } else { Ordering::Less };
        let ordering = match (left.is_null(), right.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => null_first,
            (false, true) => null_first.reverse(),
            (false, false) if item.descending => cmp_values(&left, &right).reverse(),
            (false, false) => cmp_values(&left, &right),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// Sorts records (stably) by ORDER BY items; see [`compare_records`].
pub fn sort_records(order: &[OrderItem], records: &mut [Map<String, JsonValue>], resolver: &dyn FieldResolver) {
    records.sort_by(|a, b| compare_records(order, a, b, resolver));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::{date, datetime};

    /// Account-like fields for tests.
    struct AccountFields;

    impl FieldResolver for AccountFields {
        fn resolve(&self, name: &str) -> Option<(String, FieldKind)> {
            const FIELDS: &[(&str, FieldKind)] = &[
                ("Id", FieldKind::Id),
                ("Name", FieldKind::String),
                ("Industry", FieldKind::String),
                ("IsDeleted", FieldKind::Boolean),
                ("AnnualRevenue", FieldKind::Number),
                ("CloseDate", FieldKind::Date),
                ("CreatedDate", FieldKind::DateTime),
                ("OwnerId", FieldKind::Reference),
            ];
            FIELDS
                .iter()
                .find(|(field, _)| field.eq_ignore_ascii_case(name))
                .map(|(field, kind)| (field.to_string(), *kind))
        }
    }

    const NOW: OffsetDateTime = datetime!(2024-03-15 12:00:00 UTC);

    fn record(value: JsonValue) -> Map<String, JsonValue> {
        match value {
            JsonValue::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn filter_of(where_clause: &str) -> Condition {
        let query = parse(&format!("SELECT Id FROM Account WHERE {where_clause}")).unwrap();
        query.filter.unwrap()
    }

    fn eval(where_clause: &str, value: JsonValue) -> bool {
        matches(&filter_of(where_clause), &record(value), &AccountFields, NOW)
    }

    fn compare(field: &str, op: CompareOp, value: Literal) -> Condition {
        Condition::Compare { field: FieldPath::from(field), op, value }
    }

    fn parse_error(text: &str) -> SoqlError {
        parse(text).unwrap_err()
    }

    fn validate_error(text: &str) -> SoqlError {
        validate(&parse(text).unwrap(), &AccountFields).unwrap_err()
    }

    fn caret_message(line: &str, column: usize, reason: &str) -> String {
        format!("{line}\n{}^\nERROR at Row:1:Column:{column}\n{reason}", " ".repeat(column - 1))
    }

    // ----- parsing -----

    #[test]
    fn parses_a_simple_query() {
        let query = parse("SELECT Id, Name FROM Account").unwrap();
        assert_eq!(
            query.select,
            vec![SelectItem::Field(FieldPath::from("Id")), SelectItem::Field(FieldPath::from("Name"))]
        );
        assert_eq!(query.object, "Account");
        assert_eq!(query.filter, None);
        assert!(query.order_by.is_empty());
        assert_eq!(query.limit, None);
        assert_eq!(query.offset, None);
        assert_eq!(query.field_offsets, vec![7, 11]);
        assert!(!query.is_count());
    }

    #[test]
    fn keywords_are_case_insensitive_and_whitespace_free() {
        let query =
            parse("select id,name\n\tfrom   account where name='x'order by name desc limit 5 offset 10").unwrap();
        assert_eq!(query.object, "account");
        assert_eq!(query.filter, Some(compare("name", CompareOp::Eq, Literal::String("x".into()))));
        assert_eq!(
            query.order_by,
            vec![OrderItem { field: FieldPath::from("name"), descending: true, nulls_last: true }]
        );
        assert_eq!(query.limit, Some(5));
        assert_eq!(query.offset, Some(10));
    }

    #[test]
    fn parses_relationship_paths() {
        let query = parse("SELECT Account.Owner.Name FROM Contact WHERE Account.Name = 'Acme'").unwrap();
        let path = FieldPath(vec!["Account".into(), "Owner".into(), "Name".into()]);
        assert_eq!(query.select, vec![SelectItem::Field(path.clone())]);
        assert_eq!(path.to_string(), "Account.Owner.Name");
        assert_eq!(path.simple_name(), None);
        assert_eq!(FieldPath::from("Name").simple_name(), Some("Name"));
        assert_eq!(query.filter, Some(compare("Account.Name", CompareOp::Eq, Literal::String("Acme".into()))));
    }

    #[test]
    fn parses_count_forms() {
        for text in ["SELECT COUNT() FROM Account", "SELECT count(id) FROM Account", "SELECT COUNT( Id ) FROM Account"]
        {
            let query = parse(text).unwrap();
            assert_eq!(query.select, vec![SelectItem::Count], "{text}");
            assert!(query.is_count());
        }
        // A field that happens to be called Count is still a field.
        let query = parse("SELECT Count FROM Account").unwrap();
        assert_eq!(query.select, vec![SelectItem::Field(FieldPath::from("Count"))]);
    }

    #[test]
    fn parses_every_comparison_operator() {
        let cases = [
            ("=", CompareOp::Eq),
            ("!=", CompareOp::Ne),
            ("<>", CompareOp::Ne),
            ("<", CompareOp::Lt),
            ("<=", CompareOp::Le),
            (">", CompareOp::Gt),
            (">=", CompareOp::Ge),
        ];
        for (written, op) in cases {
            assert_eq!(
                filter_of(&format!("AnnualRevenue {written} 5")),
                compare("AnnualRevenue", op, Literal::Number(5.0))
            );
            assert_eq!(
                filter_of(&format!("AnnualRevenue{written}5")),
                compare("AnnualRevenue", op, Literal::Number(5.0))
            );
        }
    }

    #[test]
    fn parses_scalar_literals() {
        let value = |literal: &str| match filter_of(&format!("Name = {literal}")) {
            Condition::Compare { value, .. } => value,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(value("'plain'"), Literal::String("plain".into()));
        assert_eq!(value(r"'it\'s \\ a\nb\tc'"), Literal::String("it's \\ a\nb\tc".into()));
        assert_eq!(value("''"), Literal::String(String::new()));
        assert_eq!(value("'Zoë'"), Literal::String("Zoë".into()));
        assert_eq!(value("42"), Literal::Number(42.0));
        assert_eq!(value("-42"), Literal::Number(-42.0));
        assert_eq!(value("+3.25"), Literal::Number(3.25));
        assert_eq!(value("-0.5"), Literal::Number(-0.5));
        assert_eq!(value("TRUE"), Literal::Bool(true));
        assert_eq!(value("false"), Literal::Bool(false));
        assert_eq!(value("NULL"), Literal::Null);
        assert_eq!(value("null"), Literal::Null);
    }

    #[test]
    fn parses_date_and_datetime_literals() {
        let value = |literal: &str| match filter_of(&format!("CreatedDate > {literal}")) {
            Condition::Compare { value, .. } => value,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(value("2024-01-31"), Literal::Date(date!(2024 - 01 - 31)));
        assert_eq!(value("2024-01-31T10:00:00Z"), Literal::DateTime(datetime!(2024-01-31 10:00:00 UTC)));
        assert_eq!(value("2024-01-31T10:00:00.000Z"), Literal::DateTime(datetime!(2024-01-31 10:00:00 UTC)));
        assert_eq!(value("2024-01-31T10:00:00.250Z"), Literal::DateTime(datetime!(2024-01-31 10:00:00.25 UTC)));
        assert_eq!(value("2024-01-31T10:00:00+02:00"), Literal::DateTime(datetime!(2024-01-31 10:00:00 +02:00)));
        assert_eq!(value("2024-01-31T10:00:00.000+0000"), Literal::DateTime(datetime!(2024-01-31 10:00:00 UTC)));
        assert_eq!(value("2024-01-31T10:00:00-0530"), Literal::DateTime(datetime!(2024-01-31 10:00:00 -05:30)));
        // The same instant written with different offsets compares equal.
        assert_eq!(value("2024-01-31T12:00:00+02:00"), Literal::DateTime(datetime!(2024-01-31 10:00:00 UTC)));
    }

    #[test]
    fn parses_relative_date_literals() {
        let value = |literal: &str| match filter_of(&format!("CloseDate = {literal}")) {
            Condition::Compare { value, .. } => value,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(value("TODAY"), Literal::Relative(RelativeDate::Today));
        assert_eq!(value("yesterday"), Literal::Relative(RelativeDate::Yesterday));
        assert_eq!(value("Tomorrow"), Literal::Relative(RelativeDate::Tomorrow));
        assert_eq!(value("LAST_N_DAYS:30"), Literal::Relative(RelativeDate::LastNDays(30)));
        assert_eq!(value("next_n_days : 7"), Literal::Relative(RelativeDate::NextNDays(7)));
    }

    #[test]
    fn parses_like_and_in() {
        assert_eq!(
            filter_of("Name LIKE 'Ac_e%'"),
            Condition::Like { field: FieldPath::from("Name"), pattern: "Ac_e%".into() }
        );
        // LIKE escapes stay escaped for the matcher; string escapes resolve.
        assert_eq!(
            filter_of(r"Name LIKE '100\% \_ \\ it\'s'"),
            Condition::Like { field: FieldPath::from("Name"), pattern: r"100\% \_ \\ it's".into() }
        );
        assert_eq!(
            filter_of("Industry IN ('Tech', 'Retail')"),
            Condition::In {
                field: FieldPath::from("Industry"),
                values: vec![Literal::String("Tech".into()), Literal::String("Retail".into())],
                negated: false,
            }
        );
        assert_eq!(
            filter_of("AnnualRevenue not in (1, 2.5, null)"),
            Condition::In {
                field: FieldPath::from("AnnualRevenue"),
                values: vec![Literal::Number(1.0), Literal::Number(2.5), Literal::Null],
                negated: true,
            }
        );
    }

    #[test]
    fn parses_boolean_structure_and_precedence() {
        let a = || compare("Name", CompareOp::Eq, Literal::String("a".into()));
        let b = || compare("Name", CompareOp::Eq, Literal::String("b".into()));
        let c = || compare("Name", CompareOp::Eq, Literal::String("c".into()));
        let d = || compare("Name", CompareOp::Eq, Literal::String("d".into()));
        let and = |l, r| Condition::And(Box::new(l), Box::new(r));
        let or = |l, r| Condition::Or(Box::new(l), Box::new(r));
        let not = |inner| Condition::Not(Box::new(inner));

        assert_eq!(filter_of("Name = 'a' AND Name = 'b'"), and(a(), b()));
        assert_eq!(filter_of("Name = 'a' AND Name = 'b' AND Name = 'c'"), and(and(a(), b()), c()));
        assert_eq!(filter_of("Name = 'a' OR Name = 'b' OR Name = 'c' OR Name = 'd'"), or(or(a(), b()), or(c(), d())));
        assert_eq!(filter_of("NOT Name = 'a' AND Name = 'b'"), and(not(a()), b()));
        assert_eq!(filter_of("NOT (Name = 'a' AND Name = 'b')"), not(and(a(), b())));
        assert_eq!(filter_of("(Name = 'a' OR Name = 'b') AND Name = 'c'"), and(or(a(), b()), c()));
        assert_eq!(filter_of("Name = 'a' OR (Name = 'b' AND NOT Name = 'c')"), or(a(), and(b(), not(c()))));
        assert_eq!(filter_of("((Name = 'a'))"), a());
    }

    #[test]
    fn parses_order_by_variants() {
        let query =
            parse("SELECT Id FROM Account ORDER BY Name, Industry DESC, AnnualRevenue ASC NULLS LAST, CloseDate DESC NULLS FIRST")
                .unwrap();
        let item =
            |field: &str, descending, nulls_last| OrderItem { field: FieldPath::from(field), descending, nulls_last };
        assert_eq!(
            query.order_by,
            vec![
                item("Name", false, false),
                item("Industry", true, true),
                item("AnnualRevenue", false, true),
                item("CloseDate", true, false),
            ]
        );
    }

    #[test]
    fn object_may_be_called_order() {
        let query = parse("SELECT Id FROM Order ORDER BY Id LIMIT 1").unwrap();
        assert_eq!(query.object, "Order");
        assert_eq!(query.order_by.len(), 1);
        assert_eq!(query.limit, Some(1));
    }

    #[test]
    fn records_field_offsets_in_textual_order() {
        let text = "SELECT Id, Name FROM Account WHERE Name = 'x' OR AnnualRevenue > 1 ORDER BY CloseDate";
        let query = parse(text).unwrap();
        let starts: Vec<&str> = query.field_offsets.iter().map(|&at| &text[at..at + 4]).collect();
        assert_eq!(starts, vec!["Id, ", "Name", "Name", "Annu", "Clos"]);
        assert_eq!(query.text, text);
    }

    // ----- parse errors -----

    #[test]
    fn trailing_and_points_at_the_last_token() {
        let text = "SELECT Id FROM Account WHERE Name = 'x' AND";
        let error = parse_error(text);
        assert_eq!(error.code, MALFORMED_QUERY);
        assert_eq!(error.message, caret_message(text, 41, "unexpected token: 'AND'"));
        assert_eq!(error.to_string(), format!("MALFORMED_QUERY: {}", error.message));
    }

    #[test]
    fn mixing_and_with_or_needs_parentheses() {
        let text = "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'";
        let error = parse_error(text);
        assert_eq!(error.code, MALFORMED_QUERY);
        assert_eq!(error.message, caret_message(text, 56, "unexpected token: 'OR'"));

        let text = "SELECT Id FROM Account WHERE Name = 'a' or Name = 'b' and Name = 'c'";
        assert_eq!(parse_error(text).message, caret_message(text, 55, "unexpected token: 'and'"));

        let text = "SELECT Id FROM Account WHERE NOT Name = 'a' AND Name = 'b' OR Name = 'c'";
        assert_eq!(parse_error(text).code, MALFORMED_QUERY);
    }

    #[test]
    fn reports_unexpected_tokens() {
        let cases = [
            ("SELECT * FROM Account", 8, "unexpected token: '*'"),
            ("SELECT Id Account", 11, "unexpected token: 'Account'"),
            ("SELECT FROM Account", 8, "unexpected token: 'FROM'"),
            ("SELECT Id FROM Account WHERE", 24, "unexpected token: 'WHERE'"),
            ("SELECT Id FROM Account WHERE Name 'x'", 35, "unexpected token: ''x''"),
            ("SELECT Id FROM Account WHERE Name = Other", 37, "unexpected token: 'Other'"),
            ("SELECT Id FROM Account WHERE Name IN ()", 39, "unexpected token: ')'"),
            ("SELECT Id FROM Account WHERE Name LIKE 5", 40, "unexpected token: '5'"),
            ("SELECT Id FROM Account WHERE (Name = 'a'", 38, "unexpected token: ''a''"),
            ("SELECT Id FROM Account WHERE CloseDate = LAST_N_DAYS", 42, "unexpected token: 'LAST_N_DAYS'"),
            ("SELECT Id FROM Account WHERE CloseDate = LAST_N_DAYS:-1", 54, "unexpected token: '-1'"),
            ("SELECT Id FROM Account WHERE CloseDate = THIS_MONTH", 42, "unexpected token: 'THIS_MONTH'"),
            ("SELECT Id FROM Account ORDER BY Name NULLS", 38, "unexpected token: 'NULLS'"),
            ("SELECT Id FROM Account LIMIT -1", 30, "unexpected token: '-1'"),
            ("SELECT Id FROM Account LIMIT 1.5", 30, "unexpected token: '1.5'"),
            ("SELECT Id FROM Account OFFSET 5 LIMIT 1", 33, "unexpected token: 'LIMIT'"),
            ("SELECT Id FROM Account a", 24, "unexpected token: 'a'"),
            ("SELECT Id FROM Account WHERE Limit = 1", 30, "unexpected token: 'Limit'"),
            ("SELECT Id FROM Account WHERE Name = :name", 37, "unexpected token: ':'"),
            ("SELECT Id FROM Account WHERE Name ! 'x'", 35, "unexpected token: '!'"),
        ];
        for (text, column, reason) in cases {
            let error = parse_error(text);
            assert_eq!(error.code, MALFORMED_QUERY, "{text}");
            assert_eq!(error.message, caret_message(text, column, reason), "{text}");
        }
    }

    #[test]
    fn reports_bad_literals_and_limits() {
        let cases = [
            ("SELECT Id FROM Account WHERE Name = 'open", 37, "unterminated string literal"),
            ("SELECT Id FROM Account WHERE Name = 'a\\qb'", 37, "invalid escape sequence '\\q' in string literal"),
            ("SELECT Id FROM Account WHERE CloseDate = 2024-02-30", 42, "invalid date: 2024-02-30"),
            (
                "SELECT Id FROM Account WHERE CreatedDate = 2024-01-31T10:00:00",
                44,
                "invalid datetime: 2024-01-31T10:00:00",
            ),
            (
                "SELECT Id FROM Account WHERE CreatedDate = 2024-01-31T25:00:00Z",
                44,
                "invalid datetime: 2024-01-31T25:00:00Z",
            ),
            ("SELECT Id FROM Account LIMIT 99999999999999999999", 30, "LIMIT value is too large: 99999999999999999999"),
            ("SELECT Id, COUNT() FROM Account", 12, "COUNT() must be the only element in the SELECT list"),
            ("SELECT COUNT(Name) FROM Account", 14, "COUNT(Name) is not supported: use COUNT() or COUNT(Id)"),
        ];
        for (text, column, reason) in cases {
            let error = parse_error(text);
            assert_eq!(error.code, MALFORMED_QUERY, "{text}");
            assert_eq!(error.message, caret_message(text, column, reason), "{text}");
        }
    }

    #[test]
    fn reports_empty_and_truncated_queries() {
        assert_eq!(parse_error("").message, "\n^\nERROR at Row:1:Column:1\nunexpected end of query");
        assert_eq!(parse_error("SELECT").message, caret_message("SELECT", 1, "unexpected token: 'SELECT'"));
        assert_eq!(
            parse_error("SELECT Id FROM").message,
            caret_message("SELECT Id FROM", 11, "unexpected token: 'FROM'")
        );
    }

    #[test]
    fn multi_line_errors_give_row_and_column() {
        let error = parse_error("SELECT Id\nFROM Account\nWHERE\tName = = 'x'");
        assert_eq!(
            error.message,
            "WHERE\tName = = 'x'\n     \t       ^\nERROR at Row:3:Column:14\nunexpected token: '='"
        );
    }

    #[test]
    fn rejects_excessive_nesting() {
        let text = format!("SELECT Id FROM Account WHERE {}Name = 'a'{}", "(".repeat(70), ")".repeat(70));
        let error = parse_error(&text);
        assert_eq!(error.code, MALFORMED_QUERY);
        assert!(
            error.message.ends_with("ERROR at Row:1:Column:94\nconditions are nested more than 64 deep"),
            "{}",
            error.message
        );
        let text = format!("SELECT Id FROM Account WHERE {}Name = 'a'", "NOT ".repeat(10));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn long_chains_build_shallow_trees() {
        fn depth(condition: &Condition) -> usize {
            match condition {
                Condition::And(l, r) | Condition::Or(l, r) => 1 + depth(l).max(depth(r)),
                Condition::Not(inner) => 1 + depth(inner),
                _ => 1,
            }
        }
        let clause = vec!["AnnualRevenue = 1"; 1024].join(" OR ");
        assert_eq!(depth(&filter_of(&clause)), 11);
    }

    #[test]
    fn every_prefix_fails_cleanly_or_parses() {
        let text = "SELECT Id, Account.Name, COUNT() FROM Account WHERE (Name LIKE 'Zoë\\%' OR Name IN ('a', null)) \
                    AND NOT CreatedDate >= 2024-01-31T10:00:00.000+0000 AND CloseDate = LAST_N_DAYS:3 \
                    ORDER BY Name DESC NULLS FIRST LIMIT 10 OFFSET 5";
        let mut parsed = 0;
        for (end, _) in text.char_indices().chain([(text.len(), ' ')]) {
            match parse(&text[..end]) {
                Ok(_) => parsed += 1,
                Err(error) => {
                    assert_eq!(error.code, MALFORMED_QUERY);
                    assert!(error.message.contains("ERROR at Row:1:Column:"), "{}", error.message);
                }
            }
        }
        // COUNT() is mixed with fields, so no prefix past the SELECT list parses.
        assert_eq!(parsed, 0);
        let without_count = text.replace(", COUNT()", "");
        let prefix_parses = |until: &str| {
            let end = without_count.find(until).map_or(0, |at| at + until.len());
            parse(&without_count[..end]).is_ok()
        };
        assert!(prefix_parses("FROM Acc"));
        assert!(!prefix_parses("WHERE"));
        assert!(!prefix_parses("LIKE 'Zo"));
        assert!(!prefix_parses("LAST_N_DAYS:"));
        assert!(prefix_parses("LAST_N_DAYS:3"));
        assert!(!prefix_parses("NULLS"));
        assert!(prefix_parses("OFFSET 5"));
    }

    // ----- validation -----

    #[test]
    fn validate_accepts_known_fields_and_relationships() {
        let query = parse(
            "SELECT Id, name, Account.Whatever FROM Account WHERE isdeleted = false AND Owner.Name = 'x' \
             AND CloseDate > LAST_N_DAYS:3 AND CreatedDate < 2024-01-01 AND OwnerId IN ('005000000000001', null) \
             AND Name LIKE 'a%' ORDER BY AnnualRevenue",
        )
        .unwrap();
        assert_eq!(validate(&query, &AccountFields), Ok(()));
        assert_eq!(validate(&parse("SELECT COUNT() FROM Account").unwrap(), &AccountFields), Ok(()));
    }

    #[test]
    fn validate_reports_unknown_fields_where_they_are() {
        let suffix = "If you are attempting to use a custom field, be sure to append the '__c' after the custom field \
                      name. Please reference your WSDL or the describe call for the appropriate names.";
        let cases = [
            ("SELECT Id, Foo FROM Account", 12, "Foo"),
            ("SELECT Id FROM Account WHERE Name = 'x' AND Bar__c = 1", 45, "Bar__c"),
            ("SELECT Id FROM Account ORDER BY Name, baz DESC", 39, "baz"),
        ];
        for (text, column, field) in cases {
            let error = validate_error(text);
            assert_eq!(error.code, INVALID_FIELD, "{text}");
            let reason = format!("No such column '{field}' on entity 'Account'. {suffix}");
            assert_eq!(error.message, caret_message(text, column, &reason), "{text}");
        }
    }

    #[test]
    fn validate_checks_value_types() {
        let cases = [
            (
                "SELECT Id FROM Account WHERE IsDeleted = 'false'",
                30,
                "value of filter criterion for field 'IsDeleted' must be of type boolean and should not be enclosed in quotes",
            ),
            (
                "SELECT Id FROM Account WHERE closedate = '2024-01-01'",
                30,
                "value of filter criterion for field 'CloseDate' must be of type date and should not be enclosed in quotes",
            ),
            (
                "SELECT Id FROM Account WHERE CreatedDate > 5",
                30,
                "value of filter criterion for field 'CreatedDate' must be of type dateTime",
            ),
            (
                "SELECT Id FROM Account WHERE Name = 'a' OR AnnualRevenue IN (1, '2')",
                44,
                "value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed in quotes",
            ),
            (
                "SELECT Id FROM Account WHERE Name = 5",
                30,
                "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes",
            ),
            (
                "SELECT Id FROM Account WHERE AnnualRevenue LIKE '1%'",
                30,
                "invalid operator on field 'AnnualRevenue': LIKE only applies to string fields, not double",
            ),
            (
                "SELECT Id FROM Account WHERE Id LIKE '001%'",
                30,
                "invalid operator on field 'Id': LIKE only applies to string fields, not id",
            ),
        ];
        for (text, column, reason) in cases {
            let error = validate_error(text);
            assert_eq!(error.code, INVALID_FIELD, "{text}");
            assert_eq!(error.message, caret_message(text, column, reason), "{text}");
        }
    }

    #[test]
    fn validate_without_offsets_points_at_the_start() {
        let query = Query {
            select: vec![SelectItem::Field(FieldPath::from("Nope"))],
            object: "Account".into(),
            ..Query::default()
        };
        let error = validate(&query, &AccountFields).unwrap_err();
        assert_eq!(error.code, INVALID_FIELD);
        assert!(error.message.starts_with("\n^\nERROR at Row:1:Column:1\nNo such column 'Nope' on entity 'Account'."));
    }

    #[test]
    fn closures_are_resolvers() {
        let only_id = |name: &str| name.eq_ignore_ascii_case("id").then(|| ("Id".to_string(), FieldKind::Id));
        assert_eq!(validate(&parse("SELECT ID FROM Thing").unwrap(), &only_id), Ok(()));
        assert_eq!(validate_error_with("SELECT Name FROM Thing", &only_id).code, INVALID_FIELD);
    }

    fn validate_error_with(text: &str, resolver: &dyn FieldResolver) -> SoqlError {
        validate(&parse(text).unwrap(), resolver).unwrap_err()
    }

    // ----- evaluation -----

    #[test]
    fn compares_numbers() {
        let r = json!({"AnnualRevenue": 100});
        assert!(eval("AnnualRevenue = 100", r.clone()));
        assert!(eval("AnnualRevenue = 100.0", r.clone()));
        assert!(!eval("AnnualRevenue != 100", r.clone()));
        assert!(eval("AnnualRevenue <> 99", r.clone()));
        assert!(eval("AnnualRevenue < 100.5", r.clone()));
        assert!(!eval("AnnualRevenue < 100", r.clone()));
        assert!(eval("AnnualRevenue <= 100", r.clone()));
        assert!(eval("AnnualRevenue > -1", r.clone()));
        assert!(!eval("AnnualRevenue > 100", r.clone()));
        assert!(eval("AnnualRevenue >= 100", r.clone()));
        assert!(!eval("AnnualRevenue >= 101", r));
    }

    #[test]
    fn compares_strings_case_insensitively() {
        let r = json!({"Name": "Acme Corp"});
        assert!(eval("Name = 'acme corp'", r.clone()));
        assert!(eval("name = 'ACME CORP'", r.clone()));
        assert!(!eval("Name != 'ACME corp'", r.clone()));
        assert!(eval("Name != 'Acme'", r.clone()));
        assert!(eval("Name > 'ACME'", r.clone()));
        assert!(eval("Name < 'b'", r.clone()));
        assert!(eval("Name <= 'acme corp'", r.clone()));
        assert!(!eval("Name >= 'Z'", r));
    }

    #[test]
    fn compares_booleans() {
        let r = json!({"IsDeleted": false});
        assert!(eval("IsDeleted = false", r.clone()));
        assert!(!eval("IsDeleted = true", r.clone()));
        assert!(eval("IsDeleted != true", r));
    }

    #[test]
    fn null_rules() {
        let missing = json!({});
        let explicit = json!({"Name": null, "AnnualRevenue": null});
        let present = json!({"Name": "x", "AnnualRevenue": 1});
        for r in [missing.clone(), explicit.clone()] {
            assert!(eval("Name = null", r.clone()));
            assert!(!eval("Name != null", r.clone()));
            assert!(!eval("Name = 'x'", r.clone()));
            assert!(eval("Name != 'x'", r.clone()), "a null field differs from every value");
            assert!(!eval("AnnualRevenue < 5", r.clone()));
            assert!(!eval("AnnualRevenue > 5", r.clone()));
            assert!(!eval("Name LIKE '%'", r.clone()));
            assert!(eval("NOT Name = 'x'", r.clone()));
        }
        assert!(!eval("Name = null", present.clone()));
        assert!(eval("Name != null", present.clone()));
        assert!(eval("Name <> NULL", present.clone()));
        assert!(!eval("AnnualRevenue > null", present));
    }

    #[test]
    fn like_wildcards() {
        let r = json!({"Name": "Acme Widgets"});
        assert!(eval("Name LIKE 'Acme%'", r.clone()));
        assert!(eval("Name LIKE 'acme%'", r.clone()));
        assert!(eval("Name LIKE '%WIDGETS'", r.clone()));
        assert!(eval("Name LIKE '%me W%'", r.clone()));
        assert!(eval("Name LIKE 'A_me Widgets'", r.clone()));
        assert!(eval("Name LIKE '%'", r.clone()));
        assert!(eval("Name LIKE '%%s'", r.clone()));
        assert!(!eval("Name LIKE 'Acme'", r.clone()));
        assert!(!eval("Name LIKE 'A_e%'", r.clone()));
        assert!(!eval("Name LIKE 'Acme Widgets_'", r.clone()));
        assert!(!eval("NOT Name LIKE 'Acme%'", r));
        assert!(eval("Name LIKE ''", json!({"Name": ""})));
        assert!(!eval("Name LIKE '_'", json!({"Name": ""})));
    }

    #[test]
    fn like_escapes() {
        assert!(eval(r"Name LIKE '100\%'", json!({"Name": "100%"})));
        assert!(!eval(r"Name LIKE '100\%'", json!({"Name": "1000"})));
        assert!(eval(r"Name LIKE 'a\_b'", json!({"Name": "a_b"})));
        assert!(!eval(r"Name LIKE 'a\_b'", json!({"Name": "axb"})));
        assert!(eval(r"Name LIKE 'C:\\%'", json!({"Name": "C:\\temp"})));
        assert!(eval(r"Name LIKE 'it\'s%'", json!({"Name": "It's here"})));
    }

    #[test]
    fn in_and_not_in() {
        let tech = json!({"Industry": "Tech", "AnnualRevenue": 2});
        assert!(eval("Industry IN ('tech', 'Retail')", tech.clone()));
        assert!(!eval("Industry IN ('Retail')", tech.clone()));
        assert!(!eval("Industry NOT IN ('TECH', 'Retail')", tech.clone()));
        assert!(eval("Industry NOT IN ('Retail')", tech.clone()));
        assert!(eval("AnnualRevenue IN (1, 2)", tech.clone()));
        assert!(eval("AnnualRevenue NOT IN (1, 3)", tech));
        let none = json!({"Industry": null});
        assert!(!eval("Industry IN ('Tech')", none.clone()));
        assert!(eval("Industry IN ('Tech', null)", none.clone()));
        assert!(eval("Industry NOT IN ('Tech')", none));
    }

    #[test]
    fn ids_are_case_sensitive_and_accept_15_characters() {
        let r = json!({"Id": "001000000000001AAA", "OwnerId": "005000000000001AAA"});
        assert!(eval("Id = '001000000000001AAA'", r.clone()));
        assert!(eval("Id = '001000000000001'", r.clone()));
        assert!(!eval("Id = '001000000000001aaa'", r.clone()));
        assert!(!eval("Id = '001000000000002'", r.clone()));
        assert!(eval("Id != '001000000000002'", r.clone()));
        assert!(eval("OwnerId IN ('005000000000001', '005000000000002AAA')", r.clone()));
        assert!(eval("OwnerId NOT IN ('005000000000002')", r.clone()));
        let short = json!({"Id": "001000000000001"});
        assert!(eval("Id = '001000000000001AAA'", short));
        // Plain text fields stay case-insensitive.
        assert!(eval("Name = 'ABC'", json!({"Name": "abc"})));
    }

    #[test]
    fn compares_dates() {
        let r = json!({"CloseDate": "2024-01-31"});
        assert!(eval("CloseDate = 2024-01-31", r.clone()));
        assert!(eval("CloseDate != 2024-02-01", r.clone()));
        assert!(eval("CloseDate < 2024-02-01", r.clone()));
        assert!(eval("CloseDate <= 2024-01-31", r.clone()));
        assert!(eval("CloseDate > 2023-12-31", r.clone()));
        assert!(!eval("CloseDate >= 2024-02-01", r.clone()));
        // A datetime literal compares by its UTC date.
        assert!(eval("CloseDate = 2024-01-31T23:00:00Z", r.clone()));
        assert!(eval("CloseDate < 2024-01-31T23:00:00-05:00", r));
    }

    #[test]
    fn compares_datetimes_in_every_literal_format() {
        let r = json!({"CreatedDate": "2024-01-31T10:00:00.000+0000"});
        for literal in [
            "2024-01-31T10:00:00Z",
            "2024-01-31T10:00:00.000Z",
            "2024-01-31T12:00:00+02:00",
            "2024-01-31T10:00:00.000+0000",
            "2024-01-31T05:00:00-0500",
        ] {
            assert!(eval(&format!("CreatedDate = {literal}"), r.clone()), "{literal}");
            assert!(!eval(&format!("CreatedDate != {literal}"), r.clone()), "{literal}");
        }
        assert!(eval("CreatedDate > 2024-01-31T09:59:59Z", r.clone()));
        assert!(eval("CreatedDate < 2024-01-31T10:00:00.001Z", r.clone()));
        assert!(eval("CreatedDate >= 2024-01-31T10:00:00Z", r.clone()));
        assert!(!eval("CreatedDate <= 2024-01-31T09:00:00Z", r.clone()));
        // A date literal compares the datetime's date part.
        assert!(eval("CreatedDate = 2024-01-31", r.clone()));
        assert!(eval("CreatedDate > 2024-01-30", r.clone()));
        assert!(!eval("CreatedDate > 2024-01-31", r.clone()));
        assert!(eval("CreatedDate <= 2024-01-31", r.clone()));
        assert!(eval("CreatedDate IN (2024-01-30, 2024-01-31)", r));
    }

    #[test]
    fn relative_dates_on_datetimes() {
        // NOW is 2024-03-15T12:00:00Z.
        let at = |moment: &str| json!({ "CreatedDate": moment });
        assert!(eval("CreatedDate = TODAY", at("2024-03-15T00:00:00.000+0000")));
        assert!(eval("CreatedDate = TODAY", at("2024-03-15T23:59:59.999+0000")));
        assert!(!eval("CreatedDate = TODAY", at("2024-03-16T00:00:00.000+0000")));
        assert!(!eval("CreatedDate = TODAY", at("2024-03-14T23:59:59.999+0000")));
        assert!(eval("CreatedDate < TODAY", at("2024-03-14T23:59:59.999+0000")));
        assert!(eval("CreatedDate > TODAY", at("2024-03-16T00:00:00.000+0000")));
        assert!(eval("CreatedDate >= TODAY", at("2024-03-15T08:00:00.000+0000")));
        assert!(eval("CreatedDate != TODAY", at("2024-03-16T08:00:00.000+0000")));
        assert!(eval("CreatedDate = YESTERDAY", at("2024-03-14T08:00:00.000+0000")));
        assert!(eval("CreatedDate = TOMORROW", at("2024-03-16T08:00:00.000+0000")));
        assert!(eval("CreatedDate = LAST_N_DAYS:2", at("2024-03-13T00:00:00.000+0000")));
        assert!(!eval("CreatedDate = LAST_N_DAYS:2", at("2024-03-12T23:59:59.000+0000")));
        assert!(eval("CreatedDate = LAST_N_DAYS:2", at("2024-03-15T12:00:00.000+0000")));
        assert!(!eval("CreatedDate = LAST_N_DAYS:2", at("2024-03-15T12:00:01.000+0000")));
        assert!(eval("CreatedDate = NEXT_N_DAYS:2", at("2024-03-17T23:59:59.000+0000")));
        assert!(!eval("CreatedDate = NEXT_N_DAYS:2", at("2024-03-18T00:00:00.000+0000")));
        assert!(!eval("CreatedDate = NEXT_N_DAYS:2", at("2024-03-15T11:59:59.000+0000")));
        // The current day is UTC even when `now` carries another offset.
        let later = datetime!(2024-03-16 01:00:00 +02:00);
        let condition = filter_of("CreatedDate = TODAY");
        assert!(matches(&condition, &record(at("2024-03-15T23:30:00.000+0000")), &AccountFields, later));
    }

    #[test]
    fn relative_dates_on_dates() {
        let on = |day: &str| json!({ "CloseDate": day });
        assert!(eval("CloseDate = TODAY", on("2024-03-15")));
        assert!(!eval("CloseDate = TODAY", on("2024-03-14")));
        assert!(eval("CloseDate = YESTERDAY", on("2024-03-14")));
        assert!(eval("CloseDate = TOMORROW", on("2024-03-16")));
        assert!(eval("CloseDate <= YESTERDAY", on("2024-01-01")));
        assert!(eval("CloseDate = LAST_N_DAYS:7", on("2024-03-08")));
        assert!(eval("CloseDate = LAST_N_DAYS:7", on("2024-03-15")));
        assert!(!eval("CloseDate = LAST_N_DAYS:7", on("2024-03-07")));
        assert!(!eval("CloseDate = LAST_N_DAYS:7", on("2024-03-16")));
        assert!(eval("CloseDate < LAST_N_DAYS:7", on("2024-03-07")));
        assert!(eval("CloseDate = NEXT_N_DAYS:3", on("2024-03-18")));
        assert!(!eval("CloseDate = NEXT_N_DAYS:3", on("2024-03-19")));
        assert!(eval("CloseDate > NEXT_N_DAYS:3", on("2024-03-19")));
        assert!(eval("CloseDate IN (YESTERDAY, TOMORROW)", on("2024-03-16")));
        assert!(eval("CloseDate = LAST_N_DAYS:4294967295", on("2024-03-01")));
    }

    #[test]
    fn resolves_relationship_and_unknown_fields() {
        let r = json!({"Name": "x", "Account": {"Name": "Acme", "Owner": {"Alias": "jdoe"}}, "Flat.Path": 3, "extra": "Hi"});
        assert!(eval("Account.Name = 'ACME'", r.clone()));
        assert!(eval("account.owner.alias LIKE 'JD%'", r.clone()));
        assert!(eval("Account.Missing = null", r.clone()));
        assert!(eval("Flat.Path = 3", r.clone()));
        assert!(eval("Extra = 'hi'", r.clone()));
        assert!(eval("Unknown = null", r));
    }

    #[test]
    fn hand_built_conditions_evaluate() {
        let condition = Condition::Or(
            Box::new(compare("Name", CompareOp::Eq, Literal::String("a".into()))),
            Box::new(Condition::Not(Box::new(compare("AnnualRevenue", CompareOp::Gt, Literal::Number(10.0))))),
        );
        assert!(matches(&condition, &record(json!({"Name": "b", "AnnualRevenue": 5})), &AccountFields, NOW));
        assert!(!matches(&condition, &record(json!({"Name": "b", "AnnualRevenue": 50})), &AccountFields, NOW));
        assert!(matches(&condition, &record(json!({"Name": "A", "AnnualRevenue": 50})), &AccountFields, NOW));
    }

    // ----- ordering -----

    fn names(records: &[Map<String, JsonValue>], field: &str) -> Vec<JsonValue> {
        records.iter().map(|r| r.get(field).cloned().unwrap_or(JsonValue::Null)).collect()
    }

    fn sorted(order_by: &str, rows: Vec<JsonValue>) -> Vec<Map<String, JsonValue>> {
        let query = parse(&format!("SELECT Id FROM Account ORDER BY {order_by}")).unwrap();
        let mut records: Vec<_> = rows.into_iter().map(record).collect();
        sort_records(&query.order_by, &mut records, &AccountFields);
        records
    }

    #[test]
    fn orders_ascending_with_nulls_first() {
        let rows = vec![
            json!({"Name": "beta"}),
            json!({}),
            json!({"Name": "Alpha"}),
            json!({"Name": "gamma"}),
            json!({"Name": null}),
        ];
        let ids = |rows: &[Map<String, JsonValue>]| names(rows, "Name");
        assert_eq!(
            ids(&sorted("Name", rows.clone())),
            vec![json!(null), json!(null), json!("Alpha"), json!("beta"), json!("gamma")]
        );
        assert_eq!(
            ids(&sorted("name ASC NULLS LAST", rows.clone())),
            vec![json!("Alpha"), json!("beta"), json!("gamma"), json!(null), json!(null)]
        );
        assert_eq!(
            ids(&sorted("Name DESC", rows.clone())),
            vec![json!("gamma"), json!("beta"), json!("Alpha"), json!(null), json!(null)]
        );
        assert_eq!(
            ids(&sorted("Name DESC NULLS FIRST", rows)),
            vec![json!(null), json!(null), json!("gamma"), json!("beta"), json!("Alpha")]
        );
    }

    #[test]
    fn orders_numbers_dates_and_multiple_keys_stably() {
        let rows = vec![
            json!({"Id": "1", "Industry": "b", "AnnualRevenue": 10, "CloseDate": "2024-01-02"}),
            json!({"Id": "2", "Industry": "A", "AnnualRevenue": 9.5, "CloseDate": "2023-12-31"}),
            json!({"Id": "3", "Industry": "a", "AnnualRevenue": 100, "CloseDate": null}),
            json!({"Id": "4", "Industry": "B", "AnnualRevenue": 10, "CloseDate": "2024-01-01"}),
        ];
        assert_eq!(
            names(&sorted("AnnualRevenue", rows.clone()), "Id"),
            vec![json!("2"), json!("1"), json!("4"), json!("3")]
        );
        assert_eq!(
            names(&sorted("CloseDate DESC", rows.clone()), "Id"),
            vec![json!("1"), json!("4"), json!("2"), json!("3")]
        );
        // Case-insensitive ties keep input order.
        assert_eq!(
            names(&sorted("Industry", rows.clone()), "Id"),
            vec![json!("2"), json!("3"), json!("1"), json!("4")]
        );
        assert_eq!(
            names(&sorted("Industry DESC, AnnualRevenue DESC", rows.clone()), "Id"),
            vec![json!("1"), json!("4"), json!("3"), json!("2")]
        );
        let query = parse("SELECT Id FROM Account ORDER BY Industry").unwrap();
        let (a, b) = (record(rows[1].clone()), record(rows[2].clone()));
        assert_eq!(compare_records(&query.order_by, &a, &b, &AccountFields), Ordering::Equal);
        assert_eq!(compare_records(&[], &a, &b, &AccountFields), Ordering::Equal);
    }

    #[test]
    fn orders_datetimes_by_instant() {
        let rows = vec![
            json!({"Id": "1", "CreatedDate": "2024-01-31T10:00:00.000+0000"}),
            json!({"Id": "2", "CreatedDate": "2024-01-31T11:00:00.000+0200"}),
            json!({"Id": "3", "CreatedDate": "2024-01-31T09:30:00.000+0000"}),
        ];
        assert_eq!(names(&sorted("CreatedDate", rows), "Id"), vec![json!("2"), json!("3"), json!("1")]);
    }
}
