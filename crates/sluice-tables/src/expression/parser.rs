//! What every expression parser shares: a cursor over the tokens, DynamoDB's
//! syntax error (`token: "X", near: "W X Y"`), document paths (resolving
//! `#name` placeholders, refusing reserved words) and operands (a path, a
//! `:value` or a function call, given meaning by the expression using it).

use super::lexer::{tokenize, Kind, Token};
use super::path::{Path, PathElement};
use super::reserved::is_reserved;
use super::ExpressionAttributes;
use crate::error::{TablesError, TablesResult};
use crate::value::Value;

/// Keywords of the grammars: never an attribute name, even where one is due.
const KEYWORDS: [&str; 9] = ["AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"];

/// How deeply parentheses, `NOT`s and function calls may nest.
const MAX_DEPTH: usize = 64;

/// An operand as written, before the expression using it says what it may
/// be.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    /// A document path.
    Path(Path),
    /// An expression attribute value.
    Value(Value),
    /// `name(arg, ...)`: any name parses; the user checks it.
    Call {
        /// The function name as written (names are case-sensitive).
        name: String,
        /// The arguments.
        args: Vec<Expr>,
    },
}

/// A cursor over one expression's tokens.
pub(super) struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    which: &'a str,
    attrs: &'a ExpressionAttributes,
    depth: usize,
}

impl<'a> Parser<'a> {
    /// A parser of `text`, the expression `which` (`ConditionExpression`,
    /// ...); refuses an empty expression.
    pub fn new(text: &'a str, which: &'a str, attrs: &'a ExpressionAttributes) -> TablesResult<Self> {
        let parser = Self { text, tokens: tokenize(text), pos: 0, which, attrs, depth: 0 };
        if parser.tokens.len() == 1 {
            return Err(parser.error("The expression can not be empty;"));
        }
        Ok(parser)
    }

    /// A validation error about this expression: `Invalid <which>: <message>`.
    pub fn error(&self, message: impl std::fmt::Display) -> TablesError {
        TablesError::validation(format!("Invalid {}: {message}", self.which))
    }

    /// DynamoDB's syntax error at the current token: the token, and the text
    /// from the token before it to the token after it.
    pub fn syntax_error(&self) -> TablesError {
        let token = self.tokens[self.pos];
        let shown = match token.kind {
            Kind::Eof => "<EOF>",
            _ => &self.text[token.start..token.end],
        };
        let start = match self.pos {
            0 => token.start,
            _ => self.tokens[self.pos - 1].start,
        };
        let end = match self.tokens.get(self.pos + 1) {
            Some(next) if next.kind != Kind::Eof => next.end,
            _ if token.kind == Kind::Eof => self.tokens.get(self.pos.wrapping_sub(1)).map_or(token.end, |t| t.end),
            _ => token.end,
        };
        self.error(format!("Syntax error; token: \"{shown}\", near: \"{}\"", &self.text[start..end]))
    }

    /// The kind of the current token.
    pub fn peek(&self) -> Kind {
        self.tokens[self.pos].kind
    }

    /// The kind of the token after the current one.
    pub fn peek_next(&self) -> Kind {
        self.tokens.get(self.pos + 1).map_or(Kind::Eof, |t| t.kind)
    }

    /// The text of the current token.
    pub fn current_text(&self) -> &'a str {
        let token = self.tokens[self.pos];
        &self.text[token.start..token.end]
    }

    /// Moves past the current token (never past the end).
    pub fn advance(&mut self) {
        if self.peek() != Kind::Eof {
            self.pos += 1;
        }
    }

    /// Moves past the current token if it is of `kind`.
    pub fn eat(&mut self, kind: Kind) -> bool {
        let matches = self.peek() == kind;
        if matches {
            self.advance();
        }
        matches
    }

    /// Moves past a token of `kind`, or fails with a syntax error.
    pub fn expect(&mut self, kind: Kind) -> TablesResult<()> {
        if self.eat(kind) {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// Whether the current token is the keyword `keyword` (in any case).
    pub fn at_keyword(&self, keyword: &str) -> bool {
        self.peek() == Kind::Name && self.current_text().eq_ignore_ascii_case(keyword)
    }

    /// Moves past the keyword `keyword`, or fails with a syntax error.
    pub fn expect_keyword(&mut self, keyword: &str) -> TablesResult<()> {
        if self.at_keyword(keyword) {
            self.advance();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// Fails unless every token has been read.
    pub fn finish(&self) -> TablesResult<()> {
        match self.peek() {
            Kind::Eof => Ok(()),
            _ => Err(self.syntax_error()),
        }
    }

    /// Enters one more level of nesting, refusing too many.
    pub fn descend(&mut self) -> TablesResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("The expression is nested more than {MAX_DEPTH} levels deep")));
        }
        Ok(())
    }

    /// Leaves a level of nesting.
    pub fn ascend(&mut self) {
        self.depth -= 1;
    }

    /// The value of the `:placeholder` at the cursor, moving past it.
    pub fn parse_value(&mut self) -> TablesResult<Value> {
        if self.peek() != Kind::ValueRef {
            return Err(self.syntax_error());
        }
        let value = self.attrs.value(self.current_text(), self.which)?;
        self.advance();
        Ok(value)
    }

    /// A document path: `name` or `#name`, then `.name`, `.#name` or
    /// `[index]` steps.
    pub fn parse_path(&mut self) -> TablesResult<Path> {
        let mut elements = vec![PathElement::Attribute(self.parse_name(true)?)];
        loop {
            match self.peek() {
                Kind::Dot => {
                    self.advance();
                    elements.push(PathElement::Attribute(self.parse_name(false)?));
                }
                Kind::LBracket => {
                    self.advance();
                    if self.peek() != Kind::Number {
                        return Err(self.syntax_error());
                    }
                    let index = self.current_text().parse().map_err(|_| self.syntax_error())?;
                    self.advance();
                    self.expect(Kind::RBracket)?;
                    elements.push(PathElement::Index(index));
                }
                _ => return Ok(Path(elements)),
            }
        }
    }

    fn parse_name(&mut self, first: bool) -> TablesResult<String> {
        let text = self.current_text();
        let name = match self.peek() {
            Kind::NameRef => self.attrs.name(text, self.which)?,
            Kind::Name if first && KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(text)) => {
                return Err(self.syntax_error())
            }
            Kind::Name if is_reserved(text) => {
                return Err(self.error(format!("Attribute name is a reserved keyword; reserved keyword: {text}")))
            }
            Kind::Name => text.to_string(),
            _ => return Err(self.syntax_error()),
        };
        self.advance();
        Ok(name)
    }

    /// An operand: a path, a `:value`, or `name(operand, ...)`.
    pub fn parse_expr(&mut self) -> TablesResult<Expr> {
        match self.peek() {
            Kind::ValueRef => Ok(Expr::Value(self.parse_value()?)),
            Kind::Name if self.peek_next() == Kind::LParen => {
                let name = self.current_text().to_string();
                self.advance();
                self.advance();
                self.descend()?;
                let mut args = vec![self.parse_expr()?];
                while self.eat(Kind::Comma) {
                    args.push(self.parse_expr()?);
                }
                self.ascend();
                self.expect(Kind::RParen)?;
                Ok(Expr::Call { name, args })
            }
            _ => Ok(Expr::Path(self.parse_path()?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::attrs;
    use super::*;

    fn parse_all(text: &str) -> TablesResult<Expr> {
        let a = attrs(serde_json::json!({"#n": "dotted.name"}), serde_json::json!({":v": {"N": "1"}}));
        let mut parser = Parser::new(text, "ConditionExpression", &a)?;
        let expr = parser.parse_expr()?;
        parser.finish()?;
        Ok(expr)
    }

    #[test]
    fn operands_parse_into_paths_values_and_calls() {
        let attribute = |name: &str| PathElement::Attribute(name.to_string());
        for (text, expected) in [
            ("a", Expr::Path(Path(vec![attribute("a")]))),
            (
                "#n.b[3][0]",
                Expr::Path(Path(vec![
                    attribute("dotted.name"),
                    attribute("b"),
                    PathElement::Index(3),
                    PathElement::Index(0),
                ])),
            ),
            ("a . #n [ 1 ]", Expr::Path(Path(vec![attribute("a"), attribute("dotted.name"), PathElement::Index(1)]))),
            (":v", Expr::Value(Value::N("1".parse().unwrap()))),
            (
                "f(a, g(:v))",
                Expr::Call {
                    name: "f".into(),
                    args: vec![
                        Expr::Path(Path(vec![attribute("a")])),
                        Expr::Call { name: "g".into(), args: vec![Expr::Value(Value::N("1".parse().unwrap()))] },
                    ],
                },
            ),
        ] {
            assert_eq!(parse_all(text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn errors_quote_the_token_and_its_neighbours() {
        for (text, expected) in [
            ("a.", "Syntax error; token: \"<EOF>\", near: \".\""),
            ("a b c", "Syntax error; token: \"b\", near: \"a b c\""),
            ("_123", "Syntax error; token: \"_\", near: \"_123\""),
            ("a[:v]", "Syntax error; token: \":v\", near: \"[:v]\""),
            ("a[#n]", "Syntax error; token: \"#n\", near: \"[#n]\""),
            ("a[-1]", "Syntax error; token: \"-\", near: \"[-1\""),
            (
                "a[99999999999999999999999]",
                "Syntax error; token: \"99999999999999999999999\", near: \"[99999999999999999999999]\"",
            ),
            ("AND", "Syntax error; token: \"AND\", near: \"AND\""),
            ("f(a", "Syntax error; token: \"<EOF>\", near: \"a\""),
            ("status", "Attribute name is a reserved keyword; reserved keyword: status"),
            ("a.Name", "Attribute name is a reserved keyword; reserved keyword: Name"),
            ("#x", "An expression attribute name used in the document path is not defined; attribute name: #x"),
            (":x", "An expression attribute value used in expression is not defined; attribute value: :x"),
            ("", "The expression can not be empty;"),
            (" ", "The expression can not be empty;"),
        ] {
            let got = parse_all(text).unwrap_err().to_string();
            assert_eq!(got, format!("Invalid ConditionExpression: {expected}"), "{text:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}a{}", "f(".repeat(100), ")".repeat(100));
        let got = parse_all(&deep).unwrap_err().to_string();
        assert!(got.contains("nested more than 64 levels"), "{got}");
    }
}
