//! Update expressions: the `SET`, `REMOVE`, `ADD` and `DELETE` clauses,
//! each at most once, in any order, their actions separated by commas.
//! `SET` takes `path = value`, `path = value + value`, `path = value -
//! value`, where a value is a path, a `:value`, `if_not_exists(path,
//! value)` or `list_append(value, value)`; `REMOVE` takes paths; `ADD` and
//! `DELETE` take `path :value`. Operand types from the request and
//! overlapping paths are refused when parsing, as DynamoDB refuses them;
//! applying the expression is in `apply.rs`.

use super::lexer::Kind;
use super::parser::{Expr, Parser};
use super::path::{check_overlaps, Path};
use super::ExpressionAttributes;
use crate::error::{TablesError, TablesResult};
use crate::value::Value;

const WHICH: &str = "UpdateExpression";

/// Functions of condition expressions, named in their own message here.
const CONDITION_FUNCTIONS: [&str; 6] =
    ["attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains", "size"];

/// A parsed update expression.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateExpression {
    /// The actions in the order written.
    pub(super) actions: Vec<Action>,
}

/// One action of an update.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Action {
    /// `SET path = value`.
    Set(Path, SetValue),
    /// `REMOVE path`.
    Remove(Path),
    /// `ADD path :value` (a number or a set).
    Add(Path, Value),
    /// `DELETE path :value` (a set).
    Delete(Path, Value),
}

/// The right-hand side of a `SET` action.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SetValue {
    /// `operand`.
    Operand(SetOperand),
    /// `operand + operand`.
    Plus(SetOperand, SetOperand),
    /// `operand - operand`.
    Minus(SetOperand, SetOperand),
}

/// An operand of a `SET` value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SetOperand {
    /// The item's value at a path (as it was before the update).
    Path(Path),
    /// An expression attribute value.
    Value(Value),
    /// `if_not_exists(path, operand)`.
    IfNotExists(Path, Box<SetOperand>),
    /// `list_append(operand, operand)`.
    ListAppend(Box<SetOperand>, Box<SetOperand>),
}

/// The clauses, in the order of [`Clause::index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clause {
    Set,
    Remove,
    Add,
    Delete,
}

impl Clause {
    const ALL: [Self; 4] = [Self::Set, Self::Remove, Self::Add, Self::Delete];

    fn keyword(self) -> &'static str {
        match self {
            Self::Set => "SET",
            Self::Remove => "REMOVE",
            Self::Add => "ADD",
            Self::Delete => "DELETE",
        }
    }
}

/// Parses an `UpdateExpression`, resolving placeholders from `attrs`.
pub fn parse_update(text: &str, attrs: &ExpressionAttributes) -> TablesResult<UpdateExpression> {
    let mut p = Parser::new(text, WHICH, attrs)?;
    let mut seen = Vec::new();
    let mut actions = Vec::new();
    while p.peek() != Kind::Eof {
        let clause = Clause::ALL.into_iter().find(|c| p.at_keyword(c.keyword())).ok_or_else(|| p.syntax_error())?;
        if seen.contains(&clause) {
            return Err(p.error(format!(
                "The \"{}\" section can only be used once in an update expression;",
                clause.keyword()
            )));
        }
        seen.push(clause);
        p.advance();
        loop {
            actions.push(parse_action(&mut p, clause)?);
            if !p.eat(Kind::Comma) {
                break;
            }
        }
    }
    let update = UpdateExpression { actions };
    check_overlaps(&update.actions.iter().map(Action::path).collect::<Vec<_>>(), WHICH)?;
    Ok(update)
}

fn parse_action(p: &mut Parser, clause: Clause) -> TablesResult<Action> {
    let path = p.parse_path()?;
    Ok(match clause {
        Clause::Set => {
            p.expect(Kind::Eq)?;
            let first = p.parse_expr()?;
            let operator = match p.peek() {
                Kind::Plus => "+",
                Kind::Minus => "-",
                _ => return Ok(Action::Set(path, SetValue::Operand(set_operand(p, first, false)?))),
            };
            p.advance();
            let second = p.parse_expr()?;
            let (first, second) = (set_operand(p, first, false)?, set_operand(p, second, false)?);
            for operand in [&first, &second] {
                if let SetOperand::Value(v) = operand {
                    if !matches!(v, Value::N(_)) {
                        return Err(wrong_operand(p, operator, v));
                    }
                }
            }
            let value = if operator == "+" { SetValue::Plus(first, second) } else { SetValue::Minus(first, second) };
            Action::Set(path, value)
        }
        Clause::Remove => Action::Remove(path),
        Clause::Add => {
            let value = p.parse_value()?;
            if !matches!(value, Value::N(_) | Value::Ss(_) | Value::Ns(_) | Value::Bs(_)) {
                return Err(clause_operand(p, "ADD", &value));
            }
            Action::Add(path, value)
        }
        Clause::Delete => {
            let value = p.parse_value()?;
            if !matches!(value, Value::Ss(_) | Value::Ns(_) | Value::Bs(_)) {
                return Err(clause_operand(p, "DELETE", &value));
            }
            Action::Delete(path, value)
        }
    })
}

/// What a parsed operand means in a `SET` value; `in_list_append` refuses
/// `list_append` nested in `list_append`, as DynamoDB does.
fn set_operand(p: &Parser, expr: Expr, in_list_append: bool) -> TablesResult<SetOperand> {
    let (name, args) = match expr {
        Expr::Path(path) => return Ok(SetOperand::Path(path)),
        Expr::Value(value) => return Ok(SetOperand::Value(value)),
        Expr::Call { name, args } => (name, args),
    };
    match name.as_str() {
        "if_not_exists" | "list_append" => {}
        _ if CONDITION_FUNCTIONS.contains(&name.as_str()) => {
            return Err(p.error(format!("The function is not allowed in an update expression; function: {name}")))
        }
        _ => return Err(p.error(format!("Invalid function name; function: {name}"))),
    }
    if args.len() != 2 {
        return Err(p.error(format!(
            "Incorrect number of operands for operator or function; operator or function: {name}, number of \
             operands: {}",
            args.len()
        )));
    }
    let [first, second]: [Expr; 2] = args.try_into().expect("two arguments");
    if name == "if_not_exists" {
        let Expr::Path(path) = first else {
            return Err(p.error("Operator or function requires a document path; operator or function: if_not_exists"));
        };
        return Ok(SetOperand::IfNotExists(path, Box::new(set_operand(p, second, in_list_append)?)));
    }
    if in_list_append {
        return Err(p.error("The function is not allowed to be used this way in an expression; function: list_append"));
    }
    let (first, second) = (set_operand(p, first, true)?, set_operand(p, second, true)?);
    for operand in [&first, &second] {
        if let SetOperand::Value(v) = operand {
            if !matches!(v, Value::L(_)) {
                return Err(wrong_operand(p, "list_append", v));
            }
        }
    }
    Ok(SetOperand::ListAppend(Box::new(first), Box::new(second)))
}

fn wrong_operand(p: &Parser, operator: &str, value: &Value) -> TablesError {
    p.error(format!(
        "Incorrect operand type for operator or function; operator or function: {operator}, operand type: {}",
        value.type_name()
    ))
}

fn clause_operand(p: &Parser, clause: &str, value: &Value) -> TablesError {
    let type_name = match value {
        Value::S(_) => "STRING",
        Value::N(_) => "NUMBER",
        Value::B(_) => "BINARY",
        Value::Ss(_) => "STRING_SET",
        Value::Ns(_) => "NUMBER_SET",
        Value::Bs(_) => "BINARY_SET",
        Value::M(_) => "MAP",
        Value::L(_) => "LIST",
        Value::Null => "NULL",
        Value::Bool(_) => "BOOLEAN",
    };
    p.error(format!("Incorrect operand type for operator or function; operator: {clause}, operand type: {type_name}"))
}

impl Action {
    /// The path the action writes.
    pub(super) fn path(&self) -> &Path {
        match self {
            Self::Set(path, _) | Self::Remove(path) | Self::Add(path, _) | Self::Delete(path, _) => path,
        }
    }
}

impl UpdateExpression {
    /// The top-level attributes the update writes (each once, in the order
    /// written), e.g. to refuse updates of key attributes.
    pub fn top_level_attributes(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for action in &self.actions {
            let name = action.path().first_attribute();
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        names
    }

    /// The paths the update writes, in the order written.
    pub fn paths(&self) -> Vec<Path> {
        self.actions.iter().map(|action| action.path().clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::expression::testing::attrs;

    fn sample_attrs() -> ExpressionAttributes {
        attrs(
            json!({"#a": "a", "#b": "b", "#st": "status"}),
            json!({
                ":n": {"N": "1"}, ":s": {"S": "x"}, ":l": {"L": []}, ":ss": {"SS": ["x"]}, ":ns": {"NS": ["1"]},
                ":bs": {"BS": ["AA=="]}, ":m": {"M": {}}, ":bool": {"BOOL": true}, ":b": {"B": "AA=="}
            }),
        )
    }

    fn parse(text: &str) -> TablesResult<UpdateExpression> {
        parse_update(text, &sample_attrs())
    }

    #[test]
    fn clauses_parse_in_any_order_and_case() {
        for (text, paths) in [
            ("SET a = :n", &["a"][..]),
            ("set a=:n,b=a", &["a", "b"]),
            ("  sEt   a = :n  ", &["a"]),
            ("REMOVE a SET b = :n", &["a", "b"]),
            ("SET c = :n REMOVE b ADD d :n DELETE e :ss", &["c", "b", "d", "e"]),
            ("ADD a :ns, b :n", &["a", "b"]),
            ("DELETE a :ss, b :bs", &["a", "b"]),
            ("SET a.b[2].#st = :n", &["a.b[2].status"]),
            ("SET a[1] = :n REMOVE a[3]", &["a[1]", "a[3]"]),
            ("SET a.b = :n, a.c.d = :n, b.x = :n REMOVE a.x, b.y", &["a.b", "a.c.d", "b.x", "a.x", "b.y"]),
            ("SET a = b + :n, c = :n - d", &["a", "c"]),
            ("SET a = if_not_exists(a, :n) + :n", &["a"]),
            ("SET a = list_append(if_not_exists(a, :l), :l)", &["a"]),
            ("SET a = if_not_exists(b, if_not_exists(c, :n))", &["a"]),
            ("SET #a = #b", &["a"]),
        ] {
            let update = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let got: Vec<String> = update.paths().iter().map(Path::to_string).collect();
            assert_eq!(got, paths, "{text}");
        }
    }

    #[test]
    fn top_level_attributes_are_listed_once() {
        let update = parse("SET a.b = :n, a.c = :n, b = :n REMOVE c[1], a.d").unwrap();
        assert_eq!(update.top_level_attributes(), ["a", "b", "c"]);
    }

    #[test]
    fn mistakes_get_dynamodbs_messages() {
        let overlap = |one: &str, two: &str| {
            format!(
                "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: \
                 {one}, path two: {two}"
            )
        };
        let conflict = |one: &str, two: &str| {
            format!(
                "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: \
                 {one}, path two: {two}"
            )
        };
        let cases: Vec<(&str, String)> = vec![
            ("", "The expression can not be empty;".into()),
            ("INVALID SYNTAX HERE", "Syntax error; token: \"INVALID\", near: \"INVALID SYNTAX\"".into()),
            ("ADD hits : incr", "Syntax error; token: \":\", near: \"hits : incr\"".into()),
            ("SET _123 = :n", "Syntax error; token: \"_\", near: \"SET _123\"".into()),
            ("SET 123a = :n", "Syntax error; token: \"123\", near: \"SET 123a\"".into()),
            ("SET hi-there = :n", "Syntax error; token: \"-\", near: \"hi-there\"".into()),
            ("SET :s = :n", "Syntax error; token: \":s\", near: \"SET :s =\"".into()),
            ("SET a = :n + :n + :n", "Syntax error; token: \"+\", near: \":n + :n\"".into()),
            ("SET a = if_not_exists(a, :n + :n)", "Syntax error; token: \"+\", near: \":n + :n\"".into()),
            ("SET a = :n,", "Syntax error; token: \"<EOF>\", near: \",\"".into()),
            ("SET a[:n] = :n", "Syntax error; token: \":n\", near: \"[:n]\"".into()),
            ("SET a = :n AND b = :n", "Syntax error; token: \"AND\", near: \":n AND b\"".into()),
            ("ADD a b", "Syntax error; token: \"b\", near: \"a b\"".into()),
            ("SET status = :n", "Attribute name is a reserved keyword; reserved keyword: status".into()),
            (
                "SET a = :nope",
                "An expression attribute value used in expression is not defined; attribute value: :nope".into(),
            ),
            ("SET a = :n SET b = :n", "The \"SET\" section can only be used once in an update expression;".into()),
            (
                "SET a = :n REMOVE c set b = :n",
                "The \"SET\" section can only be used once in an update expression;".into(),
            ),
            ("REMOVE a REMOVE b", "The \"REMOVE\" section can only be used once in an update expression;".into()),
            ("SET a = :n, a = :n", overlap("[a]", "[a]")),
            ("SET #a = :n, a = :n", overlap("[a]", "[a]")),
            ("SET a = :n REMOVE a", overlap("[a]", "[a]")),
            ("SET a = :n, a.b = :n", overlap("[a]", "[a, b]")),
            ("SET a.b.c = :n, a.b = :n", overlap("[a, b, c]", "[a, b]")),
            ("SET a[1][1] = :n ADD a[1] :n", overlap("[a, [1], [1]]", "[a, [1]]")),
            ("SET a.b = :n, a[1] = :n", conflict("[a, b]", "[a, [1]]")),
            ("SET a = f(b, c)", "Invalid function name; function: f".into()),
            ("SET a = LIST_APPEND(:l, :l)", "Invalid function name; function: LIST_APPEND".into()),
            ("SET a = size(b)", "The function is not allowed in an update expression; function: size".into()),
            (
                "SET a = list_append(:l)",
                "Incorrect number of operands for operator or function; operator or function: list_append, number of \
                 operands: 1"
                    .into(),
            ),
            (
                "SET a = if_not_exists(:n, :n)",
                "Operator or function requires a document path; operator or function: if_not_exists".into(),
            ),
            (
                "SET a = list_append(list_append(:l, :l), :l)",
                "The function is not allowed to be used this way in an expression; function: list_append".into(),
            ),
            (
                "SET a = list_append(:l, :s)",
                "Incorrect operand type for operator or function; operator or function: list_append, operand type: S"
                    .into(),
            ),
            (
                "SET a = :s + :n",
                "Incorrect operand type for operator or function; operator or function: +, operand type: S".into(),
            ),
            (
                "SET a = b - :l",
                "Incorrect operand type for operator or function; operator or function: -, operand type: L".into(),
            ),
            ("ADD a :s", "Incorrect operand type for operator or function; operator: ADD, operand type: STRING".into()),
            ("ADD a :l", "Incorrect operand type for operator or function; operator: ADD, operand type: LIST".into()),
            ("ADD a :m", "Incorrect operand type for operator or function; operator: ADD, operand type: MAP".into()),
            (
                "DELETE a :n",
                "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER".into(),
            ),
            (
                "DELETE a :bool",
                "Incorrect operand type for operator or function; operator: DELETE, operand type: BOOLEAN".into(),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).unwrap_err().to_string(), format!("Invalid UpdateExpression: {expected}"), "{text}");
        }
    }

    #[test]
    fn non_overlapping_writes_to_one_attribute_parse() {
        for text in
            ["SET a.b = :n, a.c = :n", "SET a[1] = :n, a[2] = :n", "SET a.b = :n, a.c[2] = :n", "REMOVE a.b.d, a.b.e"]
        {
            assert!(parse(text).is_ok(), "{text}");
        }
    }
}
