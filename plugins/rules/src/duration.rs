//! Time spans as people write them in pattern files: `500ms`, `90s`, `2m`, `1h`, `1d`, `1h30m`.

/// Milliseconds in a span written as number-unit pairs; `None` if it is not one.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(number.checked_mul(unit)?)?;
    }
    Some(total)
}

/// A span for people: `45s`, `3m 20s`, `2h 5m`, `1d 4h`.
pub fn human(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    let (days, hours, minutes, secs) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60, seconds % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, _) if secs == 0 => format!("{minutes}m"),
        (0, 0, _) => format!("{minutes}m {secs}s"),
        (0, _, 0) => format!("{hours}h"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        (_, 0, _) => format!("{days}d"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_with_units_and_combinations() {
        assert_eq!(parse("500ms"), Some(500));
        assert_eq!(parse("90s"), Some(90_000));
        assert_eq!(parse("2m"), Some(120_000));
        assert_eq!(parse("1h30m"), Some(5_400_000));
        assert_eq!(parse("1d"), Some(86_400_000));
        for bad in ["", "5", "m", "5 minutes", "-1s", "1w"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn spans_read_like_people_write_them() {
        assert_eq!(human(30_000), "30s");
        assert_eq!(human(200_000), "3m 20s");
        assert_eq!(human(120_000), "2m");
        assert_eq!(human(7_500_000), "2h 5m");
        assert_eq!(human(100_800_000), "1d 4h");
    }
}
