//! Humane durations in the spec (`"250ms"`, `"10s"`, `"1m"`, `"2h"`, `"7d"`), held as milliseconds.

/// Parses a duration such as `"10s"` into milliseconds.
///
/// One integer and one unit, no spaces: `ms`, `s`, `m`, `h` or `d`. The error says what was
/// expected, for the spec loader to put next to the key.
pub fn parse_millis(text: &str) -> Result<i64, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| {
        format!("`{text}` has no unit; write e.g. \"10s\" (units: ms, s, m, h, d)")
    })?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!(
            "`{text}` does not start with a whole number; write e.g. \"10s\""
        ));
    }
    let value: i64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is too large"))?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => {
            return Err(format!(
                "`{text}` has unknown unit `{other}` (units: ms, s, m, h, d)"
            ));
        }
    };
    value
        .checked_mul(unit_ms)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Formats milliseconds back into the largest whole unit, for messages and docs.
pub fn format_millis(ms: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    for (size, unit) in UNITS {
        if ms != 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Milliseconds for a person to read: days, hours, minutes and seconds with their
/// milliseconds, leaving out what is zero (`"2h"`, `"1m 30s"`, `"3649d 23h 59m 59.967s"`);
/// under a second, in milliseconds.
pub fn describe_millis(ms: i64) -> String {
    if ms.unsigned_abs() < 1_000 {
        return format!("{ms}ms");
    }
    let sign = if ms < 0 { "-" } else { "" };
    let mut rest = ms.unsigned_abs();
    let mut parts = Vec::new();
    for (size, unit) in [(86_400_000u64, "d"), (3_600_000, "h"), (60_000, "m")] {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    let (seconds, millis) = (rest / 1_000, rest % 1_000);
    if millis != 0 {
        let fraction = format!("{millis:03}");
        parts.push(format!("{seconds}.{}s", fraction.trim_end_matches('0')));
    } else if seconds != 0 {
        parts.push(format!("{seconds}s"));
    }
    format!("{sign}{}", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_millis("250ms"), Ok(250));
        assert_eq!(parse_millis("10s"), Ok(10_000));
        assert_eq!(parse_millis("1m"), Ok(60_000));
        assert_eq!(parse_millis("2h"), Ok(7_200_000));
        assert_eq!(parse_millis("7d"), Ok(604_800_000));
        assert_eq!(parse_millis("0s"), Ok(0));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "",
            "10",
            "s",
            "1.5s",
            "-1s",
            "10 s",
            "10sec",
            "99999999999999999999d",
        ] {
            assert!(parse_millis(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn formats_in_the_largest_whole_unit() {
        assert_eq!(format_millis(60_000), "1m");
        assert_eq!(format_millis(90_000), "90s");
        assert_eq!(format_millis(1), "1ms");
        assert_eq!(format_millis(0), "0ms");
    }

    #[test]
    fn describes_any_duration_in_the_units_people_read() {
        assert_eq!(describe_millis(7_200_000), "2h");
        assert_eq!(describe_millis(250), "250ms");
        assert_eq!(describe_millis(1_500), "1.5s");
        assert_eq!(describe_millis(90_000), "1m 30s");
        assert_eq!(describe_millis(129_720_600_000), "1501d 9h 30m");
        assert_eq!(describe_millis(90_061_001), "1d 1h 1m 1.001s");
        assert_eq!(describe_millis(315_359_999_967), "3649d 23h 59m 59.967s");
        assert_eq!(describe_millis(-61_500), "-1m 1.5s");
    }
}
