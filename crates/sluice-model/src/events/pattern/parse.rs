//! Compiles pattern text into match branches, checking it in the same
//! order, and with the same messages, as EventBridge's rule compiler.
//!
//! A pattern compiles to a list of branches (one per combination of `$or`
//! alternatives); a branch maps each dotted field path to its match list.

use super::lexer::{Lexer, Token};
use super::ops::{self, Matcher, Wildcard};

/// Field path (dot-joined) and its match list, in pattern order.
pub(super) type Branch = Vec<(String, Vec<Matcher>)>;

/// Most `$or` combinations one pattern may expand to.
pub(super) const MAX_BRANCHES: usize = 1000;

/// Field names that may not appear inside `$or` (the reference engine's
/// reserved words).
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

/// Which kind of `anything-but` object form is being read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ButKind {
    Plain,
    IgnoreCase,
    Prefix,
    Suffix,
    Wildcard,
}

/// Compiles `text`; an error is the reason text of the refusal.
pub(super) fn compile(text: &str) -> Result<Vec<Branch>, String> {
    let mut c = Compiler { lx: Lexer::new(text) };
    if c.next()? != Some(Token::StartObject) {
        return Err(c.lx.barf("Filter is not an object"));
    }
    let mut rules = Vec::new();
    c.object(&mut rules, &mut Vec::new(), false)?;
    c.trailing()?;
    Ok(rules)
}

struct Compiler<'a> {
    lx: Lexer<'a>,
}

impl Compiler<'_> {
    fn next(&mut self) -> Result<Option<Token>, String> {
        self.lx.next()
    }

    fn barf(&self, message: &str) -> String {
        self.lx.barf(message)
    }

    /// Whether the next token is `token`.
    fn next_is(&mut self, token: Token) -> Result<bool, String> {
        Ok(self.next()? == Some(token))
    }

    fn trailing(&mut self) -> Result<(), String> {
        match self.next()? {
            None => Ok(()),
            Some(_) => Err(self.barf("Unexpected content after the end of the pattern object")),
        }
    }

    /// Reads the members of an object whose `{` was read.
    fn object(&mut self, rules: &mut Vec<Branch>, path: &mut Vec<String>, in_or: bool) -> Result<(), String> {
        let mut any = false;
        loop {
            let name = match self.next()? {
                Some(Token::EndObject) => break,
                Some(Token::FieldName(name)) => name,
                // The tokenizer only yields names or `}` inside an object.
                _ => return Err(self.barf("Unexpected token in object")),
            };
            any = true;
            if name == "$or" {
                self.or(rules, path)?;
                continue;
            }
            if in_or && RESERVED_IN_OR.contains(&name.as_str()) {
                return Err(self.barf(&format!("{name} is Ruler reserved fieldName which cannot be used inside $or.")));
            }
            match self.next()? {
                Some(Token::StartObject) => {
                    path.push(name);
                    self.object(rules, path, in_or)?;
                    path.pop();
                }
                Some(Token::StartArray) => {
                    let mut full = path.join(".");
                    if !full.is_empty() {
                        full.push('.');
                    }
                    full.push_str(&name);
                    self.match_list(rules, full)?;
                }
                _ => return Err(self.barf(&format!("\"{name}\" must be an object or an array"))),
            }
        }
        if !any {
            return Err(self.barf("Empty objects are not allowed"));
        }
        Ok(())
    }

    fn or(&mut self, rules: &mut Vec<Branch>, path: &mut Vec<String>) -> Result<(), String> {
        let current = std::mem::take(rules);
        if !self.next_is(Token::StartArray)? {
            return Err(self.barf("It must be an Array followed with $or."));
        }
        let mut count = 0;
        loop {
            match self.next()? {
                Some(Token::EndArray) => break,
                Some(Token::StartObject) => {
                    count += 1;
                    let mut alternative = current.clone();
                    if alternative.is_empty() {
                        alternative.push(Branch::new());
                    }
                    self.object(&mut alternative, path, true)?;
                    rules.extend(alternative);
                    if rules.len() > MAX_BRANCHES {
                        return Err(self.barf(&format!(
                            "Rule is too complex - $or expands to more than {MAX_BRANCHES} combinations"
                        )));
                    }
                }
                _ => return Err(self.barf("Only JSON object is allowed in array of $or relationship.")),
            }
        }
        if count < 2 {
            return Err(self.barf("There must have at least 2 Objects in $or relationship."));
        }
        Ok(())
    }

    /// Reads a field's match list whose `[` was read.
    fn match_list(&mut self, rules: &mut Vec<Branch>, name: String) -> Result<(), String> {
        let mut values = Vec::new();
        loop {
            let token = self.next()?;
            match token {
                Some(Token::EndArray) => break,
                Some(Token::StartObject) => values.push(self.match_expression()?),
                Some(Token::Str) => {
                    let text = self.lx.text()?;
                    match ops::parse_ip_literal(&text) {
                        Some(address) => values.push(Matcher::Ip { text, address }),
                        None => values.push(Matcher::Str(text)),
                    }
                }
                Some(Token::Number(text)) => {
                    let value = text.parse::<f64>().unwrap_or(f64::NAN);
                    values.push(Matcher::Number { comparable: ops::comparable_number(value), value });
                }
                Some(Token::True) => values.push(Matcher::Bool(true)),
                Some(Token::False) => values.push(Matcher::Bool(false)),
                Some(Token::Null) => values.push(Matcher::Null),
                _ => return Err(self.barf("Match value must be String, number, true, false, or null")),
            }
        }
        if values.is_empty() {
            return Err(self.barf("Empty arrays are not allowed"));
        }
        if rules.is_empty() {
            rules.push(Branch::new());
        }
        for rule in rules.iter_mut() {
            match rule.iter_mut().find(|(path, _)| *path == name) {
                Some(entry) => entry.1 = values.clone(),
                None => rule.push((name.clone(), values.clone())),
            }
        }
        Ok(())
    }

    /// The text of a string value that must close its match expression.
    fn string_then_end(&mut self, token: Option<Token>, not_string: &str) -> Result<String, String> {
        if token != Some(Token::Str) {
            return Err(self.barf(not_string));
        }
        let text = self.lx.text()?;
        self.expect_end_object()?;
        Ok(text)
    }

    fn expect_end_object(&mut self) -> Result<(), String> {
        if !self.next_is(Token::EndObject)? {
            return Err(self.barf("Only one key allowed in match expression"));
        }
        Ok(())
    }

    /// Reads a match expression whose `{` was read.
    fn match_expression(&mut self) -> Result<Matcher, String> {
        let Some(Token::FieldName(kind)) = self.next()? else {
            return Err(self.barf("Match expression name not found"));
        };
        let token = self.next()?;
        match kind.as_str() {
            "exactly" => Ok(Matcher::Str(self.string_then_end(token, "exact match pattern must be a string")?)),
            "prefix" | "suffix" => {
                if token == Some(Token::StartObject) {
                    return self.ignore_case_affix(&kind);
                }
                let text = self.string_then_end(token, &format!("{kind} match pattern must be a string"))?;
                Ok(if kind == "prefix" { Matcher::Prefix(text) } else { Matcher::Suffix(text) })
            }
            "numeric" => {
                if token != Some(Token::StartArray) {
                    return Err(self.barf("Value of numeric must be an array."));
                }
                let range = self.numeric()?;
                if !self.next_is(Token::EndObject)? {
                    return Err(self.barf("Too many elements in numeric expression"));
                }
                Ok(range)
            }
            "anything-but" => self.anything_but(token),
            "exists" => {
                let exists = match token {
                    Some(Token::True) => true,
                    Some(Token::False) => false,
                    _ => return Err(self.barf("exists match pattern must be either true or false.")),
                };
                self.expect_end_object()?;
                Ok(Matcher::Exists(exists))
            }
            "cidr" => {
                if token != Some(Token::Str) {
                    return Err(self.barf("prefix match pattern must be a string"));
                }
                let text = self.lx.text()?;
                // The reference engine raises these outside the parser, so
                // they carry no location.
                let range = ops::parse_cidr(&text)?;
                self.expect_end_object()?;
                Ok(Matcher::Cidr(range))
            }
            "equals-ignore-case" => Ok(Matcher::EqualsIgnoreCase(
                self.string_then_end(token, "equals-ignore-case match pattern must be a string")?.to_lowercase(),
            )),
            "wildcard" => {
                if token != Some(Token::Str) {
                    return Err(self.barf("wildcard match pattern must be a string"));
                }
                let text = self.lx.text()?;
                let wildcard = Wildcard::parse(&text).map_err(|e| self.barf(&e))?;
                self.expect_end_object()?;
                Ok(Matcher::Wildcard(wildcard))
            }
            _ => Err(self.barf(&format!("Unrecognized match type {kind}"))),
        }
    }

    /// `{"prefix"|"suffix": {"equals-ignore-case": ..}}` after the inner `{`.
    fn ignore_case_affix(&mut self, kind: &str) -> Result<Matcher, String> {
        let label = if kind == "prefix" { "Prefix" } else { "Suffix" };
        let Some(Token::FieldName(op)) = self.next()? else {
            return Err(self.barf(&format!("{label} expression name not found")));
        };
        if op != "equals-ignore-case" {
            return Err(self.barf(&format!("Unsupported {kind} pattern: {op}")));
        }
        let token = self.next()?;
        let text = self.string_then_end(token, "equals-ignore-case match pattern must be a string")?.to_lowercase();
        self.expect_end_object()?;
        Ok(if kind == "prefix" { Matcher::PrefixIgnoreCase(text) } else { Matcher::SuffixIgnoreCase(text) })
    }

    fn anything_but(&mut self, mut token: Option<Token>) -> Result<Matcher, String> {
        let mut kind = ButKind::Plain;
        if token == Some(Token::StartObject) {
            let Some(Token::FieldName(op)) = self.next()? else {
                return Err(self.barf("Anything-But expression name not found"));
            };
            kind = match op.as_str() {
                "equals-ignore-case" => ButKind::IgnoreCase,
                "prefix" => ButKind::Prefix,
                "suffix" => ButKind::Suffix,
                "wildcard" => ButKind::Wildcard,
                _ => return Err(self.barf(&format!("Unsupported anything-but pattern: {op}"))),
            };
            token = self.next()?;
        }
        let matcher = match token {
            Some(Token::StartArray) => {
                // The reference engine re-raises any problem inside the
                // list with the location once more.
                let listed = if kind == ButKind::Plain { self.but_list() } else { self.but_set(kind) };
                match listed {
                    Ok(Ok(matcher)) => matcher,
                    Ok(Err(outer)) => return Err(outer),
                    Err(inner) => return Err(self.barf(&inner)),
                }
            }
            Some(Token::Str) => {
                let text = self.lx.text()?;
                self.but_single_string(kind, text)?
            }
            Some(Token::Number(text)) => match kind {
                // Raised outside the parser: no location.
                ButKind::Plain => Matcher::AnythingButNumbers(vec![ops::comparable_from_text(&text)?]),
                ButKind::IgnoreCase => {
                    return Err(self.barf(
                        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
                    ))
                }
                ButKind::Wildcard => return Err(self.barf("wildcard match pattern must be a string")),
                ButKind::Prefix | ButKind::Suffix => {
                    return Err(self.barf("prefix/suffix match pattern must be a string"))
                }
            },
            _ => {
                return Err(self.barf("Value of anything-but must be an array or single string/number value."));
            }
        };
        if !self.next_is(Token::EndObject)? {
            return Err(self.barf("Too many elements in numeric expression"));
        }
        if kind != ButKind::Plain && !self.next_is(Token::EndObject)? {
            return Err(self.barf("Too many elements in numeric expression"));
        }
        Ok(matcher)
    }

    fn but_single_string(&mut self, kind: ButKind, text: String) -> Result<Matcher, String> {
        if matches!(kind, ButKind::Prefix | ButKind::Suffix) && text.is_empty() {
            return Err(self.barf("Null prefix/suffix not allowed"));
        }
        Ok(match kind {
            ButKind::Plain => Matcher::AnythingButStrings(vec![text]),
            ButKind::IgnoreCase => Matcher::AnythingButIgnoreCase(vec![text.to_lowercase()]),
            ButKind::Prefix => Matcher::AnythingButPrefix(vec![text]),
            ButKind::Suffix => Matcher::AnythingButSuffix(vec![text]),
            ButKind::Wildcard => Matcher::AnythingButWildcard(vec![Wildcard::parse(&text).map_err(|e| self.barf(&e))?]),
        })
    }

    /// A plain anything-but list. The outer `Err` is a problem raised inside
    /// the list (re-raised by the caller); the inner one is final.
    fn but_list(&mut self) -> Result<Result<Matcher, String>, String> {
        let (mut strings, mut numbers) = (Vec::new(), Vec::new());
        loop {
            match self.next()? {
                Some(Token::EndArray) => break,
                Some(Token::Str) => strings.push(self.lx.text()?),
                Some(Token::Number(text)) => numbers.push(ops::comparable_from_text(&text)?),
                _ => return Err(self.barf("Inside anything but list, start|null|boolean is not supported.")),
            }
        }
        if strings.is_empty() == numbers.is_empty() {
            return Ok(Err(self.barf(
                "Inside anything but list, either all values are number or string, mixed type is not supported",
            )));
        }
        Ok(Ok(if numbers.is_empty() {
            Matcher::AnythingButStrings(strings)
        } else {
            Matcher::AnythingButNumbers(numbers)
        }))
    }

    /// An anything-but list of prefixes, suffixes, wildcards or
    /// case-insensitive values (same error convention as [`Self::but_list`]).
    fn but_set(&mut self, kind: ButKind) -> Result<Result<Matcher, String>, String> {
        let mut values = Vec::new();
        loop {
            match self.next()? {
                Some(Token::EndArray) => break,
                Some(Token::Str) => {
                    let text = self.lx.text()?;
                    if matches!(kind, ButKind::Prefix | ButKind::Suffix) && text.is_empty() {
                        return Err(self.barf("Null prefix/suffix not allowed"));
                    }
                    values.push(text);
                }
                _ => {
                    return Err(self.barf(match kind {
                        ButKind::IgnoreCase => {
                            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
                        }
                        ButKind::Wildcard => "wildcard match pattern must be a string",
                        _ => "prefix/suffix match pattern must be a string",
                    }))
                }
            }
        }
        Ok(Ok(match kind {
            ButKind::IgnoreCase => Matcher::AnythingButIgnoreCase(values.iter().map(|v| v.to_lowercase()).collect()),
            ButKind::Prefix => Matcher::AnythingButPrefix(values),
            ButKind::Suffix => Matcher::AnythingButSuffix(values),
            _ => {
                let mut wildcards = Vec::new();
                for value in &values {
                    match Wildcard::parse(value) {
                        Ok(w) => wildcards.push(w),
                        Err(e) => return Ok(Err(self.barf(&e))),
                    }
                }
                Matcher::AnythingButWildcard(wildcards)
            }
        }))
    }

    /// Reads the operator/value list of `numeric` whose `[` was read.
    /// Like the reference engine, the numbers are converted (and range
    /// problems reported) only once the whole list is read.
    fn numeric(&mut self) -> Result<Matcher, String> {
        let token = self.next()?;
        if token != Some(Token::Str) {
            let shown = token.map(|t| t.text()).unwrap_or_default();
            return Err(self.barf(&format!("Invalid member in numeric match: {shown}")));
        }
        let operator = self.lx.text()?;
        let token = self.next()?;
        let first = match token {
            Some(Token::Number(text)) if ["=", "<", "<=", ">", ">="].contains(&operator.as_str()) => text,
            _ if operator == "=" => return Err(self.barf("Value of equals must be numeric")),
            _ if ["<", "<=", ">", ">="].contains(&operator.as_str()) => {
                return Err(self.barf(&format!("Value of {operator} must be numeric")))
            }
            _ => return Err(self.barf(&format!("Unrecognized numeric range operator: {operator}"))),
        };
        let convert = |c: &Self, text: &str| ops::comparable_from_text(text).map_err(|e| c.barf(&e));
        if operator == "=" || operator.starts_with('<') {
            if !self.next_is(Token::EndArray)? {
                return Err(self.barf("Too many elements in numeric expression"));
            }
            let value = convert(self, &first)?;
            return Ok(match operator.as_str() {
                "=" => Matcher::Numeric { bottom: Some((value, false)), top: Some((value, false)) },
                _ => Matcher::Numeric { bottom: None, top: Some((value, operator == "<")) },
            });
        }
        let open_bottom = operator == ">";
        let token = self.next()?;
        if token == Some(Token::EndArray) {
            let bottom = convert(self, &first)?;
            return Ok(Matcher::Numeric { bottom: Some((bottom, open_bottom)), top: None });
        }
        if token != Some(Token::Str) {
            let shown = token.map(|t| t.text()).unwrap_or_default();
            return Err(self.barf(&format!("Bad value in numeric range: {shown}")));
        }
        let upper = self.lx.text()?;
        if upper != "<" && upper != "<=" {
            return Err(self.barf(&format!("Bad numeric range operator: {upper}")));
        }
        let Some(Token::Number(top_text)) = self.next()? else {
            return Err(self.barf(&format!("Value of {upper} must be numeric")));
        };
        if !self.next_is(Token::EndArray)? {
            return Err(self.barf("Too many terms in numeric range expression"));
        }
        let bottom = convert(self, &first)?;
        let top = convert(self, &top_text)?;
        if bottom >= top {
            return Err(self.barf("Bottom must be less than top"));
        }
        Ok(Matcher::Numeric { bottom: Some((bottom, open_bottom)), top: Some((top, upper == "<")) })
    }
}
