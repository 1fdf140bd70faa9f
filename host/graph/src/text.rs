//! Label text: control characters made visible, long lines wrapped, and the escapes of each
//! output format.

/// `text` with every control character written as its Rust escape (`\n`, `\u{1b}`), so that
/// no label breaks a line of the output or carries a character XML forbids.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` in lines of at most `width` characters, broken at spaces; a word longer than a line
/// is cut. Never empty: an empty text is one empty line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_len = 0;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        // A word that cannot fit on any line: cut it.
        while word.len() > width {
            if line_len > 0 {
                lines.push(std::mem::take(&mut line));
                line_len = 0;
            }
            lines.push(word.drain(..width).collect());
        }
        let needed = if line_len == 0 {
            word.len()
        } else {
            line_len + 1 + word.len()
        };
        if needed > width && line_len > 0 {
            lines.push(std::mem::take(&mut line));
            line_len = 0;
        }
        if line_len > 0 {
            line.push(' ');
            line_len += 1;
        }
        line.extend(word.iter());
        line_len += word.len();
    }
    if line_len > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Text for XML content and attribute values.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a double-quoted DOT string.
pub fn dot(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a double-quoted Mermaid label: quotes and the characters Mermaid reads as
/// markup or entity codes become entity codes (`#quot;`).
pub fn mermaid(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '`' => out.push_str("#96;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(clean("a\nb\u{1b}[31m\tc"), "a\\nb\\u{1b}[31m\\tc");
        assert_eq!(clean("plain: é ✓"), "plain: é ✓");
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("grants: cache, log", 40), ["grants: cache, log"]);
        assert_eq!(
            wrap("grants: sql (queries: a, b, c)", 14),
            ["grants: sql", "(queries: a,", "b, c)"]
        );
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("x abcdefghij", 4), ["x", "abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
        for line in wrap(
            "grants: http (allow: api.github.com, *.example.com; private allowed)",
            20,
        ) {
            assert!(line.chars().count() <= 20, "{line}");
        }
    }

    #[test]
    fn each_format_escapes_its_own_special_characters() {
        let text = r#"say "hi" <b> & 'bye' \ # `x`"#;
        assert_eq!(
            xml(text),
            r#"say &quot;hi&quot; &lt;b&gt; &amp; &apos;bye&apos; \ # `x`"#
        );
        assert_eq!(dot(text), r#"say \"hi\" <b> & 'bye' \\ # `x`"#);
        assert_eq!(
            mermaid(text),
            "say #quot;hi#quot; #lt;b#gt; #amp; 'bye' \\ #35; #96;x#96;"
        );
    }
}
