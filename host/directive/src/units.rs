//! Durations (`2s`, `1500ms`, `1m`) and byte sizes (`64MiB`, `16KiB`, `1048576`).

use std::time::Duration;

/// Parses a duration such as `250ms`, `5s`, `1m 30s` (humantime syntax).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. `500ms`, `5s` or `1m`"))
}

/// Parses a byte size: a number of bytes, or a number with a unit
/// (`B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB`; decimal units are powers of 1000).
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let invalid = || format!("`{text}` is not a size; write e.g. `64MiB`, `512KiB` or `1048576`");
    let number: u64 = digits.parse().map_err(|_| invalid())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1 << 10,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1 << 20,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1 << 30,
        _ => return Err(invalid()),
    };
    number.checked_mul(multiplier).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_with_binary_and_decimal_units() {
        assert_eq!(parse_byte_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_byte_size("16 KiB"), Ok(16 << 10));
        assert_eq!(parse_byte_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_byte_size("1048576"), Ok(1 << 20));
        assert!(parse_byte_size("64 MiBs").is_err());
        assert!(parse_byte_size("MiB").is_err());
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("150ms"), Ok(Duration::from_millis(150)));
        assert!(parse_duration("soon").is_err());
    }
}
