//! The Directive parser on arbitrary bytes (read as UTF-8, invalid sequences replaced, as a
//! file's text would be after any decoding): it never panics, and when it refuses the text,
//! it says why and where: at least one diagnostic, each with a message and a 1-based
//! `line:column` inside the text.

#![no_main]

use std::path::PathBuf;

use karman_directive::{ParseOptions, UnsetEnv, parse};
use libfuzzer_sys::fuzz_target;

/// `env(NAME)` is set for names of even length, so both branches are reached.
fn env(name: &str) -> Option<String> {
    name.len()
        .is_multiple_of(2)
        .then(|| format!("value-of-{name}"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let options = ParseOptions {
        file_name: "Directive.yaml".to_string(),
        // No component source or key file exists there: the parser reports them (or, with
        // `unbuilt_sources`, accepts the sources) without reading the machine's files.
        base_dir: PathBuf::from("/nonexistent/karman-fuzz"),
        env: &env,
        unbuilt_sources: data.len().is_multiple_of(2),
        // Both ways of reading an unset `env(NAME)`: an error, or `karman graph`'s placeholder.
        unset_env: if data.len().is_multiple_of(3) {
            UnsetEnv::Placeholder
        } else {
            UnsetEnv::Error
        },
    };
    let Err(error) = parse(&text, &options) else {
        return;
    };
    assert!(
        !error.diagnostics.is_empty(),
        "an error without a diagnostic"
    );
    // Lines as YAML counts them (`\r\n`, `\r` and `\n` end a line); the last one may be empty.
    let lines = text.split('\n').count() + text.matches('\r').count();
    for diagnostic in &error.diagnostics {
        assert!(!diagnostic.message.is_empty(), "an empty message: {error}");
        let Some(location) = &diagnostic.location else {
            panic!("a diagnostic without a position: {diagnostic}");
        };
        assert_eq!(&*location.file, "Directive.yaml");
        assert!(
            location.line >= 1 && location.line <= lines,
            "line {} outside the text's {lines} lines: {diagnostic}",
            location.line
        );
        assert!(location.column >= 1, "column 0: {diagnostic}");
    }
    // Displaying the error (what `karman check` prints) must not panic either.
    let _ = error.to_string();
});
