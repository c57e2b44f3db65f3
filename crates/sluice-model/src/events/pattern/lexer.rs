//! A pull tokenizer over pattern text that reports problems the way the
//! Jackson streaming parser under EventBridge's rule compiler does: the
//! same sentences, and the same `[Source: (String)"..."; line: L, column: C]`
//! location, where the column is the one of the first character not yet
//! consumed. Like Jackson, a field name also consumes the first token of
//! its value, and a string value stays unread (the location sits just
//! after its opening quote) until its text is asked for.

/// Most characters of the source shown in a location, as Jackson shows.
const MAX_SOURCE_SNIPPET: usize = 500;

/// One token of the pattern text.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    StartObject,
    EndObject,
    StartArray,
    EndArray,
    /// A field name; the first token of its value is already read.
    FieldName(String),
    /// A string value; its text is read by [`Lexer::text`].
    Str,
    /// A number, as written.
    Number(String),
    True,
    False,
    Null,
}

impl Token {
    /// What Jackson's `getText()` gives for this token (used in messages).
    pub(super) fn text(&self) -> String {
        match self {
            Token::StartObject => "{".into(),
            Token::EndObject => "}".into(),
            Token::StartArray => "[".into(),
            Token::EndArray => "]".into(),
            Token::FieldName(name) => name.clone(),
            Token::Str => String::new(),
            Token::Number(text) => text.clone(),
            Token::True => "true".into(),
            Token::False => "false".into(),
            Token::Null => "null".into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Context {
    Object { start: (usize, usize), entries: bool },
    Array { start: (usize, usize), entries: bool },
}

/// The tokenizer. Errors are the message text that follows
/// `Event pattern is not valid. Reason: `.
pub(super) struct Lexer<'a> {
    source: &'a str,
    chars: Vec<char>,
    pos: usize,
    line: usize,
    line_start: usize,
    stack: Vec<Context>,
    /// The value token read along with a field name.
    pending: Option<Token>,
    /// Whether the current string value is still unread.
    string_open: bool,
    /// The text of the current string value, once read.
    string_text: Option<String>,
}

impl<'a> Lexer<'a> {
    /// A tokenizer at the start of `source`.
    pub(super) fn new(source: &'a str) -> Self {
        Lexer {
            source,
            chars: source.chars().collect(),
            pos: 0,
            line: 1,
            line_start: 0,
            stack: Vec::new(),
            pending: None,
            string_open: false,
            string_text: None,
        }
    }

    /// The location of the next unread character, as Jackson prints it.
    pub(super) fn location(&self) -> String {
        self.location_of(self.line, self.column_at(self.pos, self.line_start))
    }

    fn column_at(&self, pos: usize, line_start: usize) -> usize {
        self.chars[line_start..pos].iter().map(|c| c.len_utf16()).sum::<usize>() + 1
    }

    fn location_of(&self, line: usize, column: usize) -> String {
        let total: usize = self.chars.len();
        let snippet = if total > MAX_SOURCE_SNIPPET {
            let shown: String = self.chars[..MAX_SOURCE_SNIPPET].iter().collect();
            format!("\"{shown}\"[truncated {} chars]", total - MAX_SOURCE_SNIPPET)
        } else {
            format!("\"{}\"", self.source)
        };
        format!("[Source: (String){snippet}; line: {line}, column: {column}]")
    }

    /// `message` with the current location, as a parse exception reads.
    pub(super) fn barf(&self, message: &str) -> String {
        format!("{message}\n at {}", self.location())
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' || (c == '\r' && self.peek() != Some('\n')) {
            self.line += 1;
            self.line_start = self.pos;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
                self.bump();
            } else {
                break;
            }
        }
    }

    /// The next token, or `None` at the end of the text.
    pub(super) fn next(&mut self) -> Result<Option<Token>, String> {
        if let Some(token) = self.pending.take() {
            return Ok(Some(token));
        }
        if self.string_open {
            self.text()?;
        }
        self.string_text = None;
        self.skip_ws();
        let Some(mut c) = self.peek() else {
            return match self.stack.last() {
                None => Ok(None),
                Some(context) => {
                    let (kind, (line, column)) = match context {
                        Context::Object { start, .. } => ("Object", *start),
                        Context::Array { start, .. } => ("Array", *start),
                    };
                    let start = self.location_of(line, column);
                    Err(self.barf(&format!(
                        "Unexpected end-of-input: expected close marker for {kind} (start marker at {start})"
                    )))
                }
            };
        };
        if c == ']' || c == '}' {
            self.bump();
            return self.close(c).map(Some);
        }
        let in_object = match self.stack.last_mut() {
            Some(Context::Object { entries, .. }) => {
                if *entries {
                    if c != ',' {
                        self.bump();
                        return Err(self.unexpected(c, "was expecting comma to separate Object entries"));
                    }
                    self.bump();
                    self.skip_ws();
                    c = self.peek().ok_or_else(|| self.end_within("Object entries"))?;
                }
                true
            }
            Some(Context::Array { entries, .. }) => {
                if *entries {
                    if c != ',' {
                        self.bump();
                        return Err(self.unexpected(c, "was expecting comma to separate Array entries"));
                    }
                    self.bump();
                    self.skip_ws();
                    c = self.peek().ok_or_else(|| self.end_within("Array entries"))?;
                }
                false
            }
            None => false,
        };
        match self.stack.last_mut() {
            Some(Context::Object { entries, .. }) | Some(Context::Array { entries, .. }) => *entries = true,
            None => {}
        }
        if in_object {
            self.bump();
            if c != '"' {
                return Err(self.unexpected(c, "was expecting double-quote to start field name"));
            }
            let name = self.read_string()?;
            self.skip_ws();
            match self.bump() {
                Some(':') => {}
                Some(other) => {
                    return Err(self.unexpected(other, "was expecting a colon to separate field name and value"))
                }
                None => return Err(self.end_within("Object entries")),
            }
            self.skip_ws();
            let first = self.peek().ok_or_else(|| self.end_within("Object entries"))?;
            let value = self.value(first)?;
            self.pending = Some(value);
            return Ok(Some(Token::FieldName(name)));
        }
        self.value(c).map(Some)
    }

    fn close(&mut self, c: char) -> Result<Token, String> {
        match (self.stack.last().copied(), c) {
            (Some(Context::Object { .. }), '}') => {
                self.stack.pop();
                Ok(Token::EndObject)
            }
            (Some(Context::Array { .. }), ']') => {
                self.stack.pop();
                Ok(Token::EndArray)
            }
            (Some(Context::Object { start, .. }), _) => Err(self.barf(&format!(
                "Unexpected close marker ']': expected '}}' (for Object starting at {})",
                self.location_of(start.0, start.1)
            ))),
            (Some(Context::Array { start, .. }), _) => Err(self.barf(&format!(
                "Unexpected close marker '}}': expected ']' (for Array starting at {})",
                self.location_of(start.0, start.1)
            ))),
            (None, _) => Err(self.barf(&format!(
                "Unexpected close marker '{c}': expected '{}' (for root starting at {})",
                if c == '}' { ']' } else { '}' },
                self.location_of(1, 1)
            ))),
        }
    }

    fn end_within(&self, what: &str) -> String {
        self.barf(&format!("Unexpected end-of-input within/between {what}"))
    }

    /// Reads the first token of a value starting with `c` (not yet consumed).
    fn value(&mut self, c: char) -> Result<Token, String> {
        let start = (self.line, self.column_at(self.pos, self.line_start));
        match c {
            '"' => {
                self.bump();
                self.string_open = true;
                Ok(Token::Str)
            }
            '{' => {
                self.bump();
                self.stack.push(Context::Object { start, entries: false });
                Ok(Token::StartObject)
            }
            '[' => {
                self.bump();
                self.stack.push(Context::Array { start, entries: false });
                Ok(Token::StartArray)
            }
            't' => self.literal("true", Token::True),
            'f' => self.literal("false", Token::False),
            'n' => self.literal("null", Token::Null),
            '-' | '0'..='9' => self.number(),
            ']' | '}' => {
                self.bump();
                Err(self.unexpected(c, "expected a value"))
            }
            _ if c.is_alphabetic() || c == '_' || c == '$' => self.invalid_token(String::new()),
            _ => {
                self.bump();
                Err(self.unexpected(
                    c,
                    "expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
                ))
            }
        }
    }

    fn literal(&mut self, word: &str, token: Token) -> Result<Token, String> {
        let mut matched = String::new();
        for expected in word.chars() {
            if self.peek() == Some(expected) {
                self.bump();
                matched.push(expected);
            } else {
                return self.invalid_token(matched);
            }
        }
        match self.peek() {
            Some(c) if is_identifier_part(c) => self.invalid_token(matched),
            _ => Ok(token),
        }
    }

    fn invalid_token(&mut self, mut seen: String) -> Result<Token, String> {
        while let Some(c) = self.peek() {
            if !is_identifier_part(c) || seen.chars().count() >= 256 {
                break;
            }
            self.bump();
            seen.push(c);
        }
        Err(self.barf(&format!(
            "Unrecognized token '{seen}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
        )))
    }

    fn number(&mut self) -> Result<Token, String> {
        let mut text = String::new();
        if self.peek() == Some('-') {
            self.bump();
            text.push('-');
            match self.peek() {
                Some(c) if c.is_ascii_digit() => {}
                Some(c) => {
                    self.bump();
                    return Err(self.unexpected(
                        c,
                        "in numeric value: expected digit (0-9) to follow minus sign, for valid numeric value",
                    ));
                }
                None => return Err(self.barf("Unexpected end-of-input in numeric value")),
            }
        }
        let int_start = text.len();
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            self.bump();
            text.push(c);
        }
        if text.len() - int_start > 1 && text[int_start..].starts_with('0') {
            return Err(self.barf("Invalid numeric value: Leading zeroes not allowed"));
        }
        if self.peek() == Some('.') {
            self.bump();
            text.push('.');
            let before = text.len();
            while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                self.bump();
                text.push(c);
            }
            if text.len() == before {
                return Err(self.bad_number_char("Decimal point not followed by a digit"));
            }
        }
        if let Some(e @ ('e' | 'E')) = self.peek() {
            self.bump();
            text.push(e);
            if let Some(sign @ ('+' | '-')) = self.peek() {
                self.bump();
                text.push(sign);
            }
            let before = text.len();
            while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                self.bump();
                text.push(c);
            }
            if text.len() == before {
                return Err(self.bad_number_char("Exponent indicator not followed by a digit"));
            }
        }
        Ok(Token::Number(text))
    }

    fn bad_number_char(&mut self, what: &str) -> String {
        match self.bump() {
            Some(c) => self.unexpected(c, &format!("in numeric value: {what}")),
            None => self.barf("Unexpected end-of-input in numeric value"),
        }
    }

    /// The text of the current string value (reads it if still unread).
    pub(super) fn text(&mut self) -> Result<String, String> {
        if self.string_open {
            self.string_open = false;
            let text = self.read_string()?;
            self.string_text = Some(text);
        }
        Ok(self.string_text.clone().unwrap_or_default())
    }

    /// Reads a string whose opening quote is consumed, up to and including
    /// the closing quote.
    fn read_string(&mut self) -> Result<String, String> {
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.barf("Unexpected end-of-input: was expecting closing quote for a string value"));
            };
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(escaped) = self.bump() else {
                        return Err(self.barf("Unexpected end-of-input in character escape sequence"));
                    };
                    match escaped {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            let unit = self.hex4()?;
                            if (0xD800..0xDC00).contains(&unit)
                                && self.chars.get(self.pos) == Some(&'\\')
                                && self.chars.get(self.pos + 1) == Some(&'u')
                            {
                                let saved = (self.pos, self.line, self.line_start);
                                self.bump();
                                self.bump();
                                let low = self.hex4()?;
                                if (0xDC00..0xE000).contains(&low) {
                                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                                    out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                                    continue;
                                }
                                (self.pos, self.line, self.line_start) = saved;
                            }
                            out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
                        }
                        other => return Err(self.barf(&format!("Unrecognized character escape {}", char_desc(other)))),
                    }
                }
                c if (c as u32) < 0x20 => {
                    return Err(self.barf(&format!(
                    "Illegal unquoted character ({}): has to be escaped using backslash to be included in string value",
                    char_desc(c)
                )))
                }
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut unit = 0u32;
        for _ in 0..4 {
            let Some(c) = self.bump() else {
                return Err(self.barf("Unexpected end-of-input in character escape sequence"));
            };
            let Some(digit) = c.to_digit(16) else {
                return Err(self.unexpected(c, "expected a hex-digit for character escape sequence"));
            };
            unit = unit * 16 + digit;
        }
        Ok(unit)
    }

    /// An unexpected character that was just consumed; like current
    /// Jackson, the location points at the character itself.
    fn unexpected(&self, c: char, what: &str) -> String {
        let message = format!("Unexpected character ({}): {what}", char_desc(c));
        let column = self.column_at(self.pos, self.line_start).saturating_sub(c.len_utf16()).max(1);
        format!("{message}\n at {}", self.location_of(self.line, column))
    }
}

/// Whether `c` continues a token such as `true` (Java identifier part).
fn is_identifier_part(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// A character as Jackson describes it in messages.
fn char_desc(c: char) -> String {
    let code = c as u32;
    if c.is_control() {
        format!("(CTRL-CHAR, code {code})")
    } else if code > 255 {
        format!("'{c}' (code {code} / 0x{code:x})")
    } else {
        format!("'{c}' (code {code})")
    }
}
