//! Text a guest controls, made safe to place inside a line-based protocol: NATS and Kafka
//! header values, and the lines of the text log.
//!
//! [`escape_controls`] turns every control character (CR, LF, tab, NUL, ESC, DEL, the C1 range
//! with NEL) and the Unicode line and paragraph separators into a visible escape (`\r`, `\n`,
//! `\t`, `\u{1b}`), so a guest's text can never end a header or a log line and start another:
//! an error message `boom` CR LF `Nats-Msg-Id: x` stays one header value, with the four
//! characters `\r\n` in it. Other text, backslashes included, is unchanged.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with its control characters escaped (borrowed when it has none).
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn line_breaks_cannot_start_a_new_header_or_line() {
        assert_eq!(
            escape_controls("boom\r\nNats-Msg-Id: fixed"),
            "boom\\r\\nNats-Msg-Id: fixed"
        );
        assert_eq!(
            escape_controls("a\u{85}b\u{2028}c\u{2029}d"),
            "a\\u{85}b\\u{2028}c\\u{2029}d"
        );
    }

    #[test]
    fn other_control_characters_are_escaped_visibly() {
        assert_eq!(
            escape_controls("\0tab\there\u{1b}[31mred\u{7f}"),
            "\\u{0}tab\\there\\u{1b}[31mred\\u{7f}"
        );
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in ["", "plain", "C:\\path\\n", "héllo wörld ✓", r#"{"a": 1}"#] {
            let escaped = escape_controls(text);
            assert!(matches!(escaped, std::borrow::Cow::Borrowed(_)), "{text}");
            assert_eq!(escaped, text);
        }
    }
}
