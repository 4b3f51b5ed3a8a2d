//! Credential lifetimes (CONTRACT.md §3, §7): the `duration` query parameter, the policy's Go-style
//! `max_server_duration`, and how they combine.
//!
//! An AssumeRole made with a Lambda's role credentials is role chaining, which AWS caps at one
//! hour, so nothing here ever yields more than 3600 seconds.

/// The shortest credentials STS issues.
pub const MIN_SECONDS: u32 = 900;
/// The role-chaining cap.
pub const MAX_SECONDS: u32 = 3600;

/// A `duration` parameter that is not an integer in 900..=3600.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidDuration;

/// Check 7: an absent `duration` is `Ok(None)`; an integer in 900..=3600 is `Ok(Some)`;
/// anything else (empty, `899`, `3601`, `-1`, `abc`, `900.5`, `+900`) is `Err`
/// (→ `INVALID_DURATION`).
pub fn parse_requested(raw: Option<&str>) -> Result<Option<u32>, InvalidDuration> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidDuration);
    }
    let seconds: u32 = raw.parse().map_err(|_| InvalidDuration)?;
    (MIN_SECONDS..=MAX_SECONDS).contains(&seconds).then_some(Some(seconds)).ok_or(InvalidDuration)
}

/// The requested value, else the rule's maximum, else the default; then capped by the rule's
/// maximum; then clamped into 900..=3600.
pub fn effective(requested: Option<u32>, rule_max: Option<u32>, default: u32) -> u32 {
    let wanted = requested.or(rule_max).unwrap_or(default);
    let capped = rule_max.map_or(wanted, |max| wanted.min(max));
    capped.clamp(MIN_SECONDS, MAX_SECONDS)
}

/// A Go-style duration string (`1h`, `15m`, `1h30m`, `90m`, `2700s`, `0.5h`) in whole seconds.
pub fn parse_go_duration(text: &str) -> Result<u32, String> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("is empty".into());
    }
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        let unit_end = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        nanos += number_nanos(number, unit_nanos(unit)?)
            .ok_or_else(|| format!("`{text}` is not a duration like `15m`, `1h` or `1h30m`"))?;
        rest = after;
    }
    if !nanos.is_multiple_of(1_000_000_000) {
        return Err(format!("`{text}` is not a whole number of seconds"));
    }
    u32::try_from(nanos / 1_000_000_000).map_err(|_| format!("`{text}` is far too long"))
}

fn unit_nanos(unit: &str) -> Result<u128, String> {
    Ok(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3600 * 1_000_000_000,
        "" => return Err("needs a unit (`s`, `m` or `h`), as in `15m`".into()),
        other => return Err(format!("has an unknown unit `{other}`; use `s`, `m` or `h`")),
    })
}

/// `number` (digits, at most one `.`) times `unit` nanoseconds, exactly.
fn number_nanos(number: &str, unit: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') || whole.len() > 12 || fraction.len() > 9 {
        return None;
    }
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let scale = 10u128.pow(fraction.len() as u32);
    let fraction: u128 = if fraction.is_empty() { 0 } else { fraction.parse().ok()? };
    let fraction_nanos = fraction * unit;
    fraction_nanos.is_multiple_of(scale).then(|| whole * unit + fraction_nanos / scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_durations() {
        for (raw, expected) in [
            (None, Ok(None)),
            (Some(""), Err(InvalidDuration)),
            (Some("900"), Ok(Some(900))),
            (Some("3600"), Ok(Some(3600))),
            (Some("1800"), Ok(Some(1800))),
            (Some("0900"), Ok(Some(900))),
            (Some("0000000001800"), Ok(Some(1800))),
            (Some("899"), Err(InvalidDuration)),
            (Some("3601"), Err(InvalidDuration)),
            (Some("43200"), Err(InvalidDuration)),
            (Some("7200"), Err(InvalidDuration)),
            (Some("-1"), Err(InvalidDuration)),
            (Some("abc"), Err(InvalidDuration)),
            (Some("900.5"), Err(InvalidDuration)),
            (Some("900.0"), Err(InvalidDuration)),
            (Some("+900"), Err(InvalidDuration)),
            (Some(" 900"), Err(InvalidDuration)),
            (Some("9e2"), Err(InvalidDuration)),
            (Some("99999999999999999999"), Err(InvalidDuration)),
            (Some("1,900"), Err(InvalidDuration)),
        ] {
            assert_eq!(parse_requested(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn effective_durations_follow_the_contract_order() {
        for (requested, rule_max, default, expected) in [
            (None, None, 900, 900),
            (None, None, 1800, 1800),
            (None, Some(3600), 900, 3600),
            (Some(1200), None, 900, 1200),
            (Some(3600), Some(1800), 900, 1800),
            (Some(1200), Some(1800), 900, 1200),
            (None, Some(1800), 3600, 1800),
            (Some(900), Some(600), 900, 900),
        ] {
            assert_eq!(effective(requested, rule_max, default), expected, "{requested:?} {rule_max:?} {default}");
        }
    }

    #[test]
    fn go_durations() {
        for (text, expected) in [
            ("15m", Ok(900)),
            ("1h", Ok(3600)),
            ("1h30m", Ok(5400)),
            ("90m", Ok(5400)),
            ("2700s", Ok(2700)),
            ("0.5h", Ok(1800)),
            ("1.5m", Ok(90)),
            ("1h0m0s", Ok(3600)),
            ("900000ms", Ok(900)),
            ("20m", Ok(1200)),
        ] {
            assert_eq!(parse_go_duration(text), expected, "{text}");
        }
        for text in ["", "15", "m", "1x", "1hh", "1.2.3h", "-15m", "1.5s5", "1500ms", "999999999999999h", "1 h", ".m"] {
            assert!(parse_go_duration(text).is_err(), "{text:?} should be rejected");
        }
    }
}
