//! Condition expressions (`ConditionExpression`, `FilterExpression`):
//! comparisons, `BETWEEN`, `IN`, the functions `attribute_exists`,
//! `attribute_not_exists`, `attribute_type`, `begins_with`, `contains` and
//! `size`, combined with `NOT`, `AND` and `OR` (binding in that order) and
//! parentheses. As in DynamoDB, operands from the request are type-checked
//! when parsing (an error), operands from the item when evaluating (a
//! false condition); a missing attribute makes a comparison false, except
//! `<>`, which it makes true.

use std::borrow::Cow;
use std::cmp::Ordering;

use base64::Engine;
use sluice_model::dynamodb::number::Number;

use super::lexer::Kind;
use super::parser::{Expr, Parser};
use super::path::Path;
use super::ExpressionAttributes;
use crate::error::TablesResult;
use crate::value::{Item, Value};

/// Most values `IN` may list.
const MAX_IN_VALUES: usize = 100;

/// The types `attribute_type` knows, in the order DynamoDB lists them.
const TYPES: [&str; 10] = ["B", "NULL", "SS", "BOOL", "L", "BS", "N", "NS", "S", "M"];

/// A parsed condition or filter expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    root: Node,
}

/// One side of a comparison or a function argument.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    /// A document path into the item.
    Path(Path),
    /// An expression attribute value.
    Value(Value),
    /// `size(operand)`.
    Size(Box<Operand>),
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Comparator {
    /// `=`
    Eq,
    /// `<>`
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

impl Comparator {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// The syntax tree of a condition.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// `a <op> b`.
    Compare(Operand, Comparator, Operand),
    /// `a BETWEEN low AND high`.
    Between(Operand, Operand, Operand),
    /// `a IN (b, c, ...)`.
    In(Operand, Vec<Operand>),
    /// `attribute_exists(path)`.
    Exists(Path),
    /// `attribute_not_exists(path)`.
    NotExists(Path),
    /// `attribute_type(operand, :type)`, the type checked when parsing.
    Type(Operand, String),
    /// `begins_with(a, b)`.
    BeginsWith(Operand, Operand),
    /// `contains(a, b)`.
    Contains(Operand, Operand),
    /// `NOT c`.
    Not(Box<Node>),
    /// `a AND b`.
    And(Box<Node>, Box<Node>),
    /// `a OR b`.
    Or(Box<Node>, Box<Node>),
}

/// Parses a `ConditionExpression` or a `FilterExpression` (`which` names it
/// in error messages), resolving placeholders from `attrs`.
pub fn parse_condition(text: &str, which: &str, attrs: &ExpressionAttributes) -> TablesResult<Condition> {
    Ok(Condition { root: parse_tree(text, which, attrs, true)? })
}

/// The tree of a condition; `strict_parentheses` refuses `((...))` as
/// DynamoDB does in conditions and filters (not in key conditions).
pub(super) fn parse_tree(
    text: &str,
    which: &str,
    attrs: &ExpressionAttributes,
    strict_parentheses: bool,
) -> TablesResult<Node> {
    let mut parser = ConditionParser { p: Parser::new(text, which, attrs)?, strict_parentheses };
    let (root, _) = parser.or()?;
    parser.p.finish()?;
    Ok(root)
}

impl Condition {
    /// Whether the item satisfies the condition; `None` (no item) is
    /// evaluated as an item without attributes.
    pub fn evaluate(&self, item: Option<&Item>) -> TablesResult<bool> {
        let empty = Item::new();
        Ok(self.root.evaluate(item.unwrap_or(&empty)))
    }

    /// Every document path the condition reads, in the order written.
    pub fn paths(&self) -> Vec<Path> {
        let mut paths = Vec::new();
        self.root.collect_paths(&mut paths);
        paths
    }
}

/// A parsed node, and whether it is just a parenthesized group.
type Parsed = (Node, bool);

struct ConditionParser<'a> {
    p: Parser<'a>,
    strict_parentheses: bool,
}

impl ConditionParser<'_> {
    fn or(&mut self) -> TablesResult<Parsed> {
        let (mut node, mut group) = self.and()?;
        while self.p.at_keyword("OR") {
            self.p.advance();
            let (right, _) = self.and()?;
            node = Node::Or(Box::new(node), Box::new(right));
            group = false;
        }
        Ok((node, group))
    }

    fn and(&mut self) -> TablesResult<Parsed> {
        let (mut node, mut group) = self.not()?;
        while self.p.at_keyword("AND") {
            self.p.advance();
            let (right, _) = self.not()?;
            node = Node::And(Box::new(node), Box::new(right));
            group = false;
        }
        Ok((node, group))
    }

    fn not(&mut self) -> TablesResult<Parsed> {
        if !self.p.at_keyword("NOT") {
            return self.primary();
        }
        self.p.advance();
        self.p.descend()?;
        let (inner, _) = self.not()?;
        self.p.ascend();
        Ok((Node::Not(Box::new(inner)), false))
    }

    fn primary(&mut self) -> TablesResult<Parsed> {
        if self.p.eat(Kind::LParen) {
            self.p.descend()?;
            let (inner, group) = self.or()?;
            self.p.ascend();
            self.p.expect(Kind::RParen)?;
            if group && self.strict_parentheses {
                return Err(self.p.error("The expression has redundant parentheses;"));
            }
            return Ok((inner, true));
        }
        let left = self.p.parse_expr()?;
        let comparator = match self.p.peek() {
            Kind::Eq => Some(Comparator::Eq),
            Kind::Ne => Some(Comparator::Ne),
            Kind::Lt => Some(Comparator::Lt),
            Kind::Le => Some(Comparator::Le),
            Kind::Gt => Some(Comparator::Gt),
            Kind::Ge => Some(Comparator::Ge),
            _ => None,
        };
        let node = if let Some(comparator) = comparator {
            self.p.advance();
            let right = self.p.parse_expr()?;
            self.comparison(left, comparator, right)?
        } else if self.p.at_keyword("BETWEEN") {
            self.p.advance();
            let low = self.p.parse_expr()?;
            self.p.expect_keyword("AND")?;
            let high = self.p.parse_expr()?;
            self.between(left, low, high)?
        } else if self.p.at_keyword("IN") {
            self.p.advance();
            self.p.expect(Kind::LParen)?;
            let mut list = vec![self.p.parse_expr()?];
            while self.p.eat(Kind::Comma) {
                list.push(self.p.parse_expr()?);
            }
            self.p.expect(Kind::RParen)?;
            self.in_list(left, list)?
        } else if let Expr::Call { name, args } = left {
            self.function(&name, args)?
        } else {
            return Err(self.p.syntax_error());
        };
        Ok((node, false))
    }

    fn comparison(&self, left: Expr, comparator: Comparator, right: Expr) -> TablesResult<Node> {
        let (left, right) = (self.operand(left)?, self.operand(right)?);
        if !matches!(comparator, Comparator::Eq | Comparator::Ne) {
            self.check_ordered(&left, comparator.symbol())?;
            self.check_ordered(&right, comparator.symbol())?;
        }
        Ok(Node::Compare(left, comparator, right))
    }

    fn between(&self, value: Expr, low: Expr, high: Expr) -> TablesResult<Node> {
        let (value, low, high) = (self.operand(value)?, self.operand(low)?, self.operand(high)?);
        for operand in [&value, &low, &high] {
            self.check_ordered(operand, "BETWEEN")?;
        }
        if let (Operand::Value(low), Operand::Value(high)) = (&low, &high) {
            let bounds = format!(
                "lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                show(low),
                show(high)
            );
            match low.compare(high) {
                None => {
                    return Err(self.p.error(format!(
                        "The BETWEEN operator requires same data type for lower and upper bounds; {bounds}"
                    )))
                }
                Some(Ordering::Greater) => {
                    return Err(self.p.error(format!(
                        "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; {bounds}"
                    )))
                }
                _ => {}
            }
        }
        Ok(Node::Between(value, low, high))
    }

    fn in_list(&self, value: Expr, list: Vec<Expr>) -> TablesResult<Node> {
        if list.len() > MAX_IN_VALUES {
            return Err(self.p.error(format!(
                "The IN operator is provided with too many operands; number of operands: {}, maximum: {MAX_IN_VALUES}",
                list.len()
            )));
        }
        let list = list.into_iter().map(|e| self.operand(e)).collect::<TablesResult<_>>()?;
        Ok(Node::In(self.operand(value)?, list))
    }

    /// A call standing alone as a condition.
    fn function(&self, name: &str, args: Vec<Expr>) -> TablesResult<Node> {
        let arity = match name {
            "attribute_exists" | "attribute_not_exists" => 1,
            "attribute_type" | "begins_with" | "contains" => 2,
            "size" | "if_not_exists" | "list_append" => return Err(self.not_allowed(name)),
            _ => return Err(self.p.error(format!("Invalid function name; function: {name}"))),
        };
        self.check_arity(name, &args, arity)?;
        let mut operands = args.into_iter();
        let mut next = || operands.next().expect("arity checked");
        Ok(match name {
            "attribute_exists" | "attribute_not_exists" => {
                let Expr::Path(path) = next() else {
                    return Err(self.p.error(format!(
                        "Operator or function requires a document path; operator or function: {name}"
                    )));
                };
                if name == "attribute_exists" {
                    Node::Exists(path)
                } else {
                    Node::NotExists(path)
                }
            }
            "attribute_type" => {
                let operand = self.operand(next())?;
                Node::Type(operand, self.type_name(next())?)
            }
            "begins_with" => {
                let (a, b) = (self.operand(next())?, self.operand(next())?);
                for operand in [&a, &b] {
                    if let Operand::Value(v) = operand {
                        if !matches!(v, Value::S(_) | Value::B(_)) {
                            return Err(self.wrong_type(name, v));
                        }
                    }
                }
                Node::BeginsWith(a, b)
            }
            _ => {
                let (a, b) = (self.operand(next())?, self.operand(next())?);
                if let (Operand::Path(x), Operand::Path(y)) = (&a, &b) {
                    if x == y {
                        return Err(self.p.error(format!(
                            "The first operand must be distinct from the remaining operands for this operator or \
                             function; operator: contains, first operand: {}",
                            x.bracketed()
                        )));
                    }
                }
                Node::Contains(a, b)
            }
        })
    }

    /// An expression standing for a value: a path, a `:value` or `size(...)`.
    fn operand(&self, expr: Expr) -> TablesResult<Operand> {
        match expr {
            Expr::Path(path) => Ok(Operand::Path(path)),
            Expr::Value(value) => Ok(Operand::Value(value)),
            Expr::Call { name, args } if name == "size" => {
                self.check_arity(&name, &args, 1)?;
                let inner = self.operand(args.into_iter().next().expect("arity checked"))?;
                if let Operand::Value(v) = &inner {
                    if size_of(v).is_none() {
                        return Err(self.wrong_type("size", v));
                    }
                }
                Ok(Operand::Size(Box::new(inner)))
            }
            Expr::Call { name, .. } => match name.as_str() {
                "attribute_exists"
                | "attribute_not_exists"
                | "attribute_type"
                | "begins_with"
                | "contains"
                | "if_not_exists"
                | "list_append" => Err(self.not_allowed(&name)),
                _ => Err(self.p.error(format!("Invalid function name; function: {name}"))),
            },
        }
    }

    fn type_name(&self, expr: Expr) -> TablesResult<String> {
        let Expr::Value(value) = expr else {
            return Err(self.p.error(
                "Operator or function requires an expression attribute value; operator or function: attribute_type",
            ));
        };
        let Value::S(name) = value else { return Err(self.wrong_type("attribute_type", &value)) };
        if !TYPES.contains(&name.as_str()) {
            return Err(self.p.error(format!(
                "Invalid attribute type name found; type: {name}, valid types: {{ {} }}",
                TYPES.join(", ")
            )));
        }
        Ok(name)
    }

    fn check_arity(&self, name: &str, args: &[Expr], arity: usize) -> TablesResult<()> {
        if args.len() == arity {
            return Ok(());
        }
        Err(self.p.error(format!(
            "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
            args.len()
        )))
    }

    /// Order comparisons take only strings, numbers and binaries from the
    /// request.
    fn check_ordered(&self, operand: &Operand, operator: &str) -> TablesResult<()> {
        match operand {
            Operand::Value(v) if !matches!(v, Value::S(_) | Value::N(_) | Value::B(_)) => {
                Err(self.wrong_type(operator, v))
            }
            _ => Ok(()),
        }
    }

    fn wrong_type(&self, operator: &str, value: &Value) -> crate::error::TablesError {
        self.p.error(format!(
            "Incorrect operand type for operator or function; operator or function: {operator}, operand type: {}",
            value.type_name()
        ))
    }

    fn not_allowed(&self, name: &str) -> crate::error::TablesError {
        self.p.error(format!("The function is not allowed to be used this way in an expression; function: {name}"))
    }
}

/// A value as DynamoDB's messages show it: `{N:2}`, `{S:dog}`.
fn show(value: &Value) -> String {
    match value {
        Value::S(s) => format!("{{S:{s}}}"),
        Value::N(n) => format!("{{N:{}}}", n.canonical()),
        Value::B(b) => format!("{{B:{}}}", base64::engine::general_purpose::STANDARD.encode(b)),
        other => format!("{{{}}}", other.type_name()),
    }
}

/// `size()`: UTF-16 units of a string, bytes of a binary, elements of a
/// set, list or map; `None` for other types.
pub(super) fn size_of(value: &Value) -> Option<Value> {
    let size = match value {
        Value::S(s) => s.encode_utf16().count(),
        Value::B(b) => b.len(),
        Value::Ss(set) => set.len(),
        Value::Ns(set) => set.len(),
        Value::Bs(set) => set.len(),
        Value::L(list) => list.len(),
        Value::M(map) => map.len(),
        Value::N(_) | Value::Null | Value::Bool(_) => return None,
    };
    Number::parse(&size.to_string()).ok().map(Value::N)
}

impl Operand {
    /// The operand's value for the item, if it has one.
    pub(super) fn resolve<'v>(&'v self, item: &'v Item) -> Option<Cow<'v, Value>> {
        match self {
            Self::Path(path) => path.get(item).map(Cow::Borrowed),
            Self::Value(value) => Some(Cow::Borrowed(value)),
            Self::Size(inner) => {
                let inner = inner.resolve(item)?;
                size_of(&inner).map(Cow::Owned)
            }
        }
    }

    fn collect_paths(&self, paths: &mut Vec<Path>) {
        match self {
            Self::Path(path) => paths.push(path.clone()),
            Self::Value(_) => {}
            Self::Size(inner) => inner.collect_paths(paths),
        }
    }
}

impl Node {
    fn evaluate(&self, item: &Item) -> bool {
        match self {
            Self::Compare(a, Comparator::Eq, b) => {
                matches!((a.resolve(item), b.resolve(item)), (Some(a), Some(b)) if a.equals(&b))
            }
            Self::Compare(a, Comparator::Ne, b) => {
                !matches!((a.resolve(item), b.resolve(item)), (Some(a), Some(b)) if a.equals(&b))
            }
            Self::Compare(a, comparator, b) => {
                let Some(order) = a.resolve(item).zip(b.resolve(item)).and_then(|(a, b)| a.compare(&b)) else {
                    return false;
                };
                match comparator {
                    Comparator::Lt => order == Ordering::Less,
                    Comparator::Le => order != Ordering::Greater,
                    Comparator::Gt => order == Ordering::Greater,
                    _ => order != Ordering::Less,
                }
            }
            Self::Between(value, low, high) => match (value.resolve(item), low.resolve(item), high.resolve(item)) {
                (Some(v), Some(low), Some(high)) => {
                    v.compare(&low).is_some_and(|o| o != Ordering::Less)
                        && v.compare(&high).is_some_and(|o| o != Ordering::Greater)
                }
                _ => false,
            },
            Self::In(value, list) => value
                .resolve(item)
                .is_some_and(|v| list.iter().any(|candidate| candidate.resolve(item).is_some_and(|c| v.equals(&c)))),
            Self::Exists(path) => path.get(item).is_some(),
            Self::NotExists(path) => path.get(item).is_none(),
            Self::Type(operand, name) => operand.resolve(item).is_some_and(|v| v.type_name() == name),
            Self::BeginsWith(a, b) => match (a.resolve(item).as_deref(), b.resolve(item).as_deref()) {
                (Some(Value::S(a)), Some(Value::S(b))) => a.starts_with(b.as_str()),
                (Some(Value::B(a)), Some(Value::B(b))) => a.starts_with(b),
                _ => false,
            },
            Self::Contains(a, b) => match (a.resolve(item), b.resolve(item)) {
                (Some(a), Some(b)) => contains(&a, &b),
                _ => false,
            },
            Self::Not(inner) => !inner.evaluate(item),
            Self::And(a, b) => a.evaluate(item) && b.evaluate(item),
            Self::Or(a, b) => a.evaluate(item) || b.evaluate(item),
        }
    }

    fn collect_paths(&self, paths: &mut Vec<Path>) {
        match self {
            Self::Compare(a, _, b) | Self::BeginsWith(a, b) | Self::Contains(a, b) => {
                a.collect_paths(paths);
                b.collect_paths(paths);
            }
            Self::Between(a, b, c) => [a, b, c].into_iter().for_each(|o| o.collect_paths(paths)),
            Self::In(a, list) => std::iter::once(a).chain(list).for_each(|o| o.collect_paths(paths)),
            Self::Exists(path) | Self::NotExists(path) => paths.push(path.clone()),
            Self::Type(operand, _) => operand.collect_paths(paths),
            Self::Not(inner) => inner.collect_paths(paths),
            Self::And(a, b) | Self::Or(a, b) => {
                a.collect_paths(paths);
                b.collect_paths(paths);
            }
        }
    }
}

/// `contains(a, b)`: a substring of a string or binary, a member of a set,
/// an element of a list.
fn contains(haystack: &Value, needle: &Value) -> bool {
    match (haystack, needle) {
        (Value::S(s), Value::S(part)) => s.contains(part.as_str()),
        (Value::B(b), Value::B(part)) => part.is_empty() || b.windows(part.len()).any(|w| w == part.as_slice()),
        (Value::Ss(set), Value::S(member)) => set.contains(member),
        (Value::Ns(set), Value::N(member)) => set.contains(member),
        (Value::Bs(set), Value::B(member)) => set.contains(member),
        (Value::L(list), element) => list.iter().any(|e| e.equals(element)),
        _ => false,
    }
}

#[cfg(test)]
#[path = "condition_tests.rs"]
mod tests;
