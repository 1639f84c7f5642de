//! Field-level validation errors shared by every command and query.
//!
//! Adapters turn these into their own shape (an RFC 7807 problem with an
//! `errors` array over HTTP, `INVALID_ARGUMENT` with details over gRPC).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why one value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    /// The value is empty (after trimming surrounding white space).
    #[error("must not be empty")]
    Empty,
    /// The value is longer than allowed.
    #[error("must be at most {max} characters (got {actual})")]
    TooLong {
        /// Largest allowed length in characters.
        max: usize,
        /// Length received.
        actual: usize,
    },
    /// The value contains a character outside its alphabet.
    #[error("contains {ch:?} at position {position}; allowed: {allowed}")]
    InvalidCharacter {
        /// The offending character.
        ch: char,
        /// Its zero-based character position.
        position: usize,
        /// A human description of the allowed characters.
        allowed: &'static str,
    },
    /// The value is outside its allowed range.
    #[error("must be between {min} and {max} (got {actual})")]
    OutOfRange {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
        /// Value received.
        actual: i64,
    },
    /// Any other rule, described in words.
    #[error("{0}")]
    Other(String),
}

/// One rejected field: a JSON-pointer-like path (`price.amount`, `items[2].quantity`) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Path of the field in the request.
    pub field: String,
    /// Human-readable reason.
    pub message: String,
}

/// Every field a request got wrong, so a client can fix them all at once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid input: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A single error.
    pub fn single(field: impl Into<String>, message: impl fmt::Display) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    /// Records an error on `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl fmt::Display) {
        self.0.push(FieldError { field: field.into(), message: message.to_string() });
    }

    /// Unwraps `result`, recording its error under `field` and returning `None` on failure.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e);
                None
            }
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded errors.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// Orders the errors by `rank` of their field (a stable sort: errors of one field keep
    /// their order), so errors collected in several passes read in one order.
    pub fn sort_by_field(&mut self, rank: impl Fn(&str) -> usize) {
        self.0.sort_by_key(|e| rank(&e.field));
    }

    /// `Ok(value)` when nothing was recorded, otherwise `Err(self)`.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Self> {
        if self.0.is_empty() { Ok(value()) } else { Err(self) }
    }
}

/// How a text rule reads in an API document (JSON Schema `pattern`, `minLength`,
/// `maxLength`), so clients and generators learn the real contract from it.
///
/// The statement may be stricter than the rule, never looser: every string that matches
/// `pattern` and has `min_chars..=max_chars` characters passes the rule's parser (a
/// property test holds each rule to that). Patterns use the syntax common to ECMA-262,
/// Python `re` and the `regex` crate: `\uXXXX` escapes, classes, `\p{L}` and `\p{N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    /// A regular expression the whole value matches (anchored).
    pub pattern: &'static str,
    /// Fewest characters (Unicode scalar values).
    pub min_chars: usize,
    /// Most characters.
    pub max_chars: usize,
}

/// One-line free text ([`text`] without `multiline`): no control or bidirectional-control
/// character, and at least one character that is not white space (values are trimmed).
pub(crate) const ONE_LINE_TEXT: &str = concat!(
    r"^[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*",
    r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202A-\u202F\u205F\u2066-\u2069\u3000]",
    r"[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$",
);

/// Multi-line free text ([`text`] with `multiline`): tabs and line breaks allowed.
pub(crate) const MULTILINE_TEXT: &str =
    r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$";

/// Bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069): they
/// reorder how the text around them is displayed ("Trojan Source"), so an operator could
/// be shown something else than what is stored. Marks (U+200E, U+200F) stay allowed.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks a free-text value: trimmed, non-empty unless `allow_empty`, at most `max`
/// characters, without control characters (new lines and tabs allowed when `multiline`)
/// and without bidirectional controls ([`is_bidi_control`]).
pub(crate) fn text(raw: &str, max: usize, allow_empty: bool, multiline: bool) -> Result<String, InvalidValue> {
    let value = raw.trim();
    if value.is_empty() && !allow_empty {
        return Err(InvalidValue::Empty);
    }
    let actual = value.chars().count();
    if actual > max {
        return Err(InvalidValue::TooLong { max, actual });
    }
    if let Some((position, ch)) = value
        .chars()
        .enumerate()
        .find(|(_, c)| (c.is_control() && !(multiline && matches!(c, '\n' | '\t' | '\r'))) || is_bidi_control(*c))
    {
        return Err(InvalidValue::InvalidCharacter { ch, position, allowed: "printable characters" });
    }
    Ok(value.to_owned())
}

/// Checks a value drawn from a restricted ASCII alphabet.
pub(crate) fn token(
    raw: &str,
    max: usize,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<String, InvalidValue> {
    if raw.is_empty() {
        return Err(InvalidValue::Empty);
    }
    let actual = raw.chars().count();
    if actual > max {
        return Err(InvalidValue::TooLong { max, actual });
    }
    if let Some((position, ch)) = raw.chars().enumerate().find(|(_, c)| !ok(*c)) {
        return Err(InvalidValue::InvalidCharacter { ch, position, allowed });
    }
    Ok(raw.to_owned())
}
