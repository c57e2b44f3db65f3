//! Splits an expression into tokens as DynamoDB's lexer does: bare names
//! start with a letter and go on with letters, digits and underscores;
//! `#name` and `:value` placeholders take letters, digits and underscores
//! after their sign; list indexes are digits. A character no token starts
//! with becomes a one-character token of its own, which the parser refuses
//! where it meets it, so the syntax error names it as DynamoDB's does.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `abc_1`: an attribute name, a function name or a keyword.
    Name,
    /// `#abc`: an expression attribute name.
    NameRef,
    /// `:abc`: an expression attribute value.
    ValueRef,
    /// `12`: a list index.
    Number,
    /// `.`
    Dot,
    /// `,`
    Comma,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
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
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// A character no token starts with (`_`, `!`, a lone `#`...).
    Unknown,
    /// The end of the text.
    Eof,
}

/// One token: its kind and where it sits in the text (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    /// What it is.
    pub kind: Kind,
    /// Offset of its first byte.
    pub start: usize,
    /// Offset just past its last byte.
    pub end: usize,
}

/// The tokens of `text`, always ending with one [`Kind::Eof`].
pub(super) fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let word_end =
        |from: usize| from + bytes[from..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        let next = bytes.get(i + 1).copied();
        let (kind, end) = match byte {
            b'a'..=b'z' | b'A'..=b'Z' => (Kind::Name, word_end(i)),
            b'0'..=b'9' => (Kind::Number, i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count()),
            b'#' | b':' => match word_end(i + 1) {
                end if end == i + 1 => (Kind::Unknown, i + 1),
                end if byte == b'#' => (Kind::NameRef, end),
                end => (Kind::ValueRef, end),
            },
            b'.' => (Kind::Dot, i + 1),
            b',' => (Kind::Comma, i + 1),
            b'(' => (Kind::LParen, i + 1),
            b')' => (Kind::RParen, i + 1),
            b'[' => (Kind::LBracket, i + 1),
            b']' => (Kind::RBracket, i + 1),
            b'=' => (Kind::Eq, i + 1),
            b'+' => (Kind::Plus, i + 1),
            b'-' => (Kind::Minus, i + 1),
            b'<' if next == Some(b'>') => (Kind::Ne, i + 2),
            b'<' if next == Some(b'=') => (Kind::Le, i + 2),
            b'<' => (Kind::Lt, i + 1),
            b'>' if next == Some(b'=') => (Kind::Ge, i + 2),
            b'>' => (Kind::Gt, i + 1),
            _ => (Kind::Unknown, i + text[i..].chars().next().map_or(1, char::len_utf8)),
        };
        tokens.push(Token { kind, start: i, end });
        i = end;
    }
    tokens.push(Token { kind: Kind::Eof, start: bytes.len(), end: bytes.len() });
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> Vec<(Kind, &str)> {
        tokenize(text).into_iter().map(|t| (t.kind, &text[t.start..t.end])).collect()
    }

    #[test]
    fn tokens_follow_dynamodbs_lexer() {
        use Kind::*;
        let cases: &[(&str, &[(Kind, &str)])] = &[
            ("a.b[12]", &[(Name, "a"), (Dot, "."), (Name, "b"), (LBracket, "["), (Number, "12"), (RBracket, "]")]),
            ("#n1 = :v_2", &[(NameRef, "#n1"), (Eq, "="), (ValueRef, ":v_2")]),
            ("#123 :_", &[(NameRef, "#123"), (ValueRef, ":_")]),
            (
                "a<>b<=c>=d<e>f",
                &[
                    (Name, "a"),
                    (Ne, "<>"),
                    (Name, "b"),
                    (Le, "<="),
                    (Name, "c"),
                    (Ge, ">="),
                    (Name, "d"),
                    (Lt, "<"),
                    (Name, "e"),
                    (Gt, ">"),
                    (Name, "f"),
                ],
            ),
            ("x+y-z", &[(Name, "x"), (Plus, "+"), (Name, "y"), (Minus, "-"), (Name, "z")]),
            ("f(a, b)", &[(Name, "f"), (LParen, "("), (Name, "a"), (Comma, ","), (Name, "b"), (RParen, ")")]),
            // Names cannot start with an underscore or a digit.
            ("_123", &[(Unknown, "_"), (Number, "123")]),
            ("123a", &[(Number, "123"), (Name, "a")]),
            // A sign alone is no placeholder.
            ("# :", &[(Unknown, "#"), (Unknown, ":")]),
            ("c!=:c", &[(Name, "c"), (Unknown, "!"), (Eq, "="), (ValueRef, ":c")]),
            ("é", &[(Unknown, "é")]),
            ("  \t\n ", &[]),
        ];
        for (text, expected) in cases {
            let mut got = lex(text);
            assert_eq!(got.pop(), Some((Eof, "")), "{text}");
            assert_eq!(&got, expected, "{text}");
        }
    }
}
