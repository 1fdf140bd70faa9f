//! A small SQL lexer, shared by the three dialects: it splits raw SQL into statements at the
//! `;` that the database itself would see, and reads each statement's words, skipping string
//! literals, quoted identifiers and comments the way the database does ([`Lexicon`]).
//!
//! It fails closed: text the database could read differently from it (an unterminated quote
//! or comment, a MySQL `/*! … */` comment whose content runs, a backslash in a literal whose
//! meaning depends on a server setting) is refused rather than guessed.

use super::error::SqlError;

/// How a database reads quotes and comments.
#[derive(Clone, Copy, Debug)]
pub(super) struct Lexicon {
    /// `#` starts a comment (MySQL).
    pub(super) hash_comments: bool,
    /// `--` starts a comment only when followed by a space or a line end (MySQL).
    pub(super) dash_comment_needs_space: bool,
    /// `/* */` comments nest (PostgreSQL).
    pub(super) nested_comments: bool,
    /// `$tag$ … $tag$` strings (PostgreSQL).
    pub(super) dollar_quotes: bool,
    /// `E'…'` strings with backslash escapes (PostgreSQL).
    pub(super) escape_strings: bool,
    /// `[name]` identifiers (SQLite).
    pub(super) bracket_identifiers: bool,
    /// `` `name` `` identifiers (SQLite, MySQL).
    pub(super) backtick_identifiers: bool,
    /// `"…"` is a string literal, as `'…'` (MySQL); else a quoted identifier.
    pub(super) double_quote_strings: bool,
    /// A backslash in a plain `'…'` literal is an escape on some servers and not on others
    /// (MySQL's `NO_BACKSLASH_ESCAPES`, PostgreSQL's `standard_conforming_strings`): refused.
    pub(super) backslash_is_ambiguous: bool,
    /// `/*! … */` comments run their content (MySQL): refused.
    pub(super) executable_comments: bool,
}

/// What a statement is made of, as far as the checks need.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Statement {
    /// Its unquoted words (keywords, names, numbers), upper-cased, in order.
    pub(super) words: Vec<String>,
    /// The names it quotes (`"…"`, `` `…` ``, `[…]`), upper-cased.
    pub(super) quoted_names: Vec<String>,
    /// The contents of its string literals, upper-cased.
    pub(super) strings: Vec<String>,
    /// Whether it holds any other character (an operator, a parenthesis) outside comments.
    pub(super) punctuation: bool,
}

impl Statement {
    /// Whether it holds anything but blanks and comments.
    pub(super) fn is_empty(&self) -> bool {
        self.words.is_empty()
            && self.quoted_names.is_empty()
            && self.strings.is_empty()
            && !self.punctuation
    }
}

/// The statements of `sql`, split at each `;` outside quotes and comments (the empty ones
/// included).
pub(super) fn statements(sql: &str, lexicon: &Lexicon) -> Result<Vec<Statement>, SqlError> {
    Lexer {
        chars: sql.chars().collect(),
        at: 0,
        lexicon,
    }
    .run()
}

struct Lexer<'l> {
    chars: Vec<char>,
    at: usize,
    lexicon: &'l Lexicon,
}

/// A refusal of text the lexer cannot read as surely as the database.
fn unclear(what: &str) -> SqlError {
    SqlError::Invalid(format!("sql: the statement {what}"))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

impl Lexer<'_> {
    fn peek(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    fn run(mut self) -> Result<Vec<Statement>, SqlError> {
        let mut statements = Vec::new();
        let mut current = Statement::default();
        while let Some(c) = self.peek(0) {
            match c {
                ';' => {
                    self.at += 1;
                    statements.push(std::mem::take(&mut current));
                }
                '-' if self.peek(1) == Some('-') && self.dash_comment() => self.line_comment(),
                '#' if self.lexicon.hash_comments => self.line_comment(),
                '/' if self.peek(1) == Some('*') => self.block_comment()?,
                '\'' => {
                    let text = self.quoted('\'', self.lexicon.backslash_is_ambiguous, false)?;
                    current.strings.push(text.to_uppercase());
                }
                '"' if self.lexicon.double_quote_strings => {
                    let text = self.quoted('"', self.lexicon.backslash_is_ambiguous, false)?;
                    current.strings.push(text.to_uppercase());
                }
                '"' => {
                    let name = self.quoted('"', false, false)?;
                    current.quoted_names.push(name.to_uppercase());
                }
                '`' if self.lexicon.backtick_identifiers => {
                    let name = self.quoted('`', false, false)?;
                    current.quoted_names.push(name.to_uppercase());
                }
                '[' if self.lexicon.bracket_identifiers => {
                    let name = self.bracketed()?;
                    current.quoted_names.push(name.to_uppercase());
                }
                '$' if self.lexicon.dollar_quotes && self.dollar_tag().is_some() => {
                    let text = self.dollar_quoted()?;
                    current.strings.push(text.to_uppercase());
                }
                c if is_word_char(c) => {
                    let word = self.word();
                    if self.lexicon.escape_strings
                        && word.eq_ignore_ascii_case("e")
                        && self.peek(0) == Some('\'')
                    {
                        let text = self.quoted('\'', false, true)?;
                        current.strings.push(text.to_uppercase());
                    } else {
                        current.words.push(word.to_uppercase());
                    }
                }
                c => {
                    current.punctuation |= !c.is_whitespace();
                    self.at += 1;
                }
            }
        }
        statements.push(current);
        Ok(statements)
    }

    /// Whether the `--` here starts a comment.
    fn dash_comment(&self) -> bool {
        !self.lexicon.dash_comment_needs_space
            || self
                .peek(2)
                .is_none_or(|c| c.is_whitespace() || c.is_control())
    }

    fn line_comment(&mut self) {
        while let Some(c) = self.peek(0) {
            self.at += 1;
            if c == '\n' {
                break;
            }
        }
    }

    fn block_comment(&mut self) -> Result<(), SqlError> {
        let runs = match self.peek(2) {
            Some('!') => true,
            Some('M') => self.peek(3) == Some('!'),
            _ => false,
        };
        if self.lexicon.executable_comments && runs {
            return Err(unclear(
                "holds a `/*! … */` comment, whose content the database runs",
            ));
        }
        self.at += 2;
        let mut depth = 1;
        while depth > 0 {
            match (self.peek(0), self.peek(1)) {
                (None, _) => return Err(unclear("has an unterminated `/*` comment")),
                (Some('*'), Some('/')) => {
                    depth -= 1;
                    self.at += 2;
                }
                (Some('/'), Some('*')) if self.lexicon.nested_comments => {
                    depth += 1;
                    self.at += 2;
                }
                _ => self.at += 1,
            }
        }
        Ok(())
    }

    /// A quoted string or name closed by `quote` (doubled inside to stand for itself); with
    /// `escapes`, a backslash escapes the next character; with `refuse_backslash`, a backslash
    /// is refused.
    fn quoted(
        &mut self,
        quote: char,
        refuse_backslash: bool,
        escapes: bool,
    ) -> Result<String, SqlError> {
        self.at += 1;
        let mut text = String::new();
        loop {
            match self.peek(0) {
                None => {
                    return Err(unclear(&format!("has an unterminated {quote} quote")));
                }
                Some('\\') if refuse_backslash => {
                    return Err(unclear(
                        "has a backslash in a quoted literal, which servers read differently; bind the value as a parameter",
                    ));
                }
                Some('\\') if escapes => {
                    if let Some(next) = self.peek(1) {
                        text.push(next);
                    }
                    self.at += 2;
                }
                Some(c) if c == quote => {
                    if self.peek(1) == Some(quote) {
                        text.push(quote);
                        self.at += 2;
                    } else {
                        self.at += 1;
                        return Ok(text);
                    }
                }
                Some(c) => {
                    text.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn bracketed(&mut self) -> Result<String, SqlError> {
        self.at += 1;
        let start = self.at;
        while let Some(c) = self.peek(0) {
            self.at += 1;
            if c == ']' {
                return Ok(self.chars[start..self.at - 1].iter().collect());
            }
        }
        Err(unclear("has an unterminated `[` name"))
    }

    /// The tag of a `$tag$` opening here (`$$` has an empty one), if this is one.
    fn dollar_tag(&self) -> Option<String> {
        let mut tag = String::new();
        let mut offset = 1;
        loop {
            match self.peek(offset)? {
                '$' => return Some(tag),
                c if c.is_alphabetic() || c == '_' || (!tag.is_empty() && c.is_alphanumeric()) => {
                    tag.push(c);
                    offset += 1;
                }
                _ => return None,
            }
        }
    }

    fn dollar_quoted(&mut self) -> Result<String, SqlError> {
        let tag = self.dollar_tag().unwrap_or_default();
        let delimiter: Vec<char> = format!("${tag}$").chars().collect();
        self.at += delimiter.len();
        let start = self.at;
        while self.at + delimiter.len() <= self.chars.len() {
            if self.chars[self.at..self.at + delimiter.len()] == delimiter[..] {
                let text = self.chars[start..self.at].iter().collect();
                self.at += delimiter.len();
                return Ok(text);
            }
            self.at += 1;
        }
        Err(unclear("has an unterminated `$…$` string"))
    }

    fn word(&mut self) -> String {
        let start = self.at;
        while self.peek(0).is_some_and(is_word_char) {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }
}
