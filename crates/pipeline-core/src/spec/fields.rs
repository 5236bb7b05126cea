//! The event's declared fields, their roles (key, event time, event id) and generator hints.

use regex::Regex;

use super::raw::{RawEvent, RawField, RawGenerate, RawType};
use super::{
    Bound, EventSpec, FieldKind, FieldSpec, Generate, MAX_FIELDS, MAX_SCALE, Problems, key_width,
};
use crate::decimal::{self, DecimalError, pow10};
use crate::duration::parse_millis;
use crate::key::MAX_KEY_LEN;

pub(super) fn check_event(raw: RawEvent, problems: &mut Problems) -> Option<EventSpec> {
    problems.unknown(
        "event",
        &raw.extra,
        &[
            "key",
            "event_time",
            "event_id",
            "max_bytes",
            "max_future_skew",
            "max_past_skew",
            "fields",
        ],
    );
    if raw.max_bytes == 0 || raw.max_bytes > 16 * 1024 * 1024 {
        problems.push(
            "event.max_bytes",
            format!(
                "{} is out of range; expected 1 to 16777216 (16 MiB)",
                raw.max_bytes
            ),
        );
    }
    let max_future_skew_ms = duration(&raw.max_future_skew, "event.max_future_skew", problems);
    let max_past_skew_ms = duration(&raw.max_past_skew, "event.max_past_skew", problems);
    if raw.fields.len() > MAX_FIELDS {
        problems.push(
            "event.fields",
            format!(
                "{} fields declared; at most {MAX_FIELDS} are supported",
                raw.fields.len()
            ),
        );
    }
    let mut fields = Vec::with_capacity(raw.fields.len());
    for (i, field) in raw.fields.into_iter().enumerate() {
        let key = format!("event.fields[{i}]");
        if fields.iter().any(|f: &FieldSpec| f.name == field.name) {
            problems.push(
                format!("{key}.name"),
                format!("`{}` is declared twice", field.name),
            );
        }
        fields.push(check_field(field, &key, problems));
    }
    let role = |role: &str, name: &str, want: &[&str], problems: &mut Problems| -> Option<usize> {
        let Some(index) = fields.iter().position(|f| f.name == name) else {
            problems.push(
                role,
                format!("names `{name}`, which is not among event.fields"),
            );
            return None;
        };
        let field = &fields[index];
        if !want.contains(&field.kind.type_name()) {
            problems.push(
                role,
                format!(
                    "`{name}` is a {} field; expected a {} field",
                    field.kind.type_name(),
                    want.join(" or ")
                ),
            );
            return None;
        }
        if !field.required {
            problems.push(
                role,
                format!("`{name}` must be required (required = true): every event needs it"),
            );
            return None;
        }
        Some(index)
    };
    let event_time = role(
        "event.event_time",
        &raw.event_time,
        &["timestamp"],
        problems,
    );
    let event_id = role("event.event_id", &raw.event_id, &["string"], problems);
    if raw.key.is_empty() {
        problems.push("event.key", "name at least one key field");
    }
    if raw.key.len() > 8 {
        problems.push(
            "event.key",
            format!("{} key fields; at most 8", raw.key.len()),
        );
    }
    let mut key = Vec::new();
    for (i, name) in raw.key.iter().enumerate() {
        let at = format!("event.key[{i}]");
        if raw.key[..i].contains(name) {
            problems.push(at, format!("`{name}` is named twice"));
            continue;
        }
        if let Some(index) = role(&at, name, &["string", "integer", "boolean"], problems) {
            key.push(index);
        }
    }
    if key.len() == raw.key.len() && !key.is_empty() {
        let width: usize = key
            .iter()
            .map(|&k| key_width(&fields[k].kind))
            .sum::<usize>()
            + key.len()
            - 1;
        if width > MAX_KEY_LEN {
            let parts: Vec<String> = key
                .iter()
                .map(|&k| format!("{} ({})", fields[k].name, key_width(&fields[k].kind)))
                .collect();
            problems.push(
                "event.key",
                format!(
                    "the key can take {width} bytes ({} and the separators); at most {MAX_KEY_LEN}: lower the string fields' max_length",
                    parts.join(" + ")
                ),
            );
        }
    }
    for (i, field) in fields.iter().enumerate() {
        generated_strings_fit(i, field, event_id == Some(i), problems);
    }
    Some(EventSpec {
        max_bytes: raw.max_bytes as usize,
        max_future_skew_ms: max_future_skew_ms?,
        max_past_skew_ms: max_past_skew_ms?,
        key,
        event_time: event_time?,
        event_id: event_id?,
        fields,
    })
}

pub(super) fn duration(text: &str, key: &str, problems: &mut Problems) -> Option<i64> {
    parse_millis(text).map_err(|e| problems.push(key, e)).ok()
}

/// Checks one field; the result is usable for the role checks even when problems were found.
fn check_field(raw: RawField, key: &str, problems: &mut Problems) -> FieldSpec {
    problems.unknown(
        key,
        &raw.extra,
        &[
            "name",
            "type",
            "required",
            "min_length",
            "max_length",
            "pattern",
            "one_of",
            "scale",
            "min",
            "max",
            "exclusive_min",
            "exclusive_max",
            "generate",
        ],
    );
    let valid_name = !raw.name.is_empty()
        && raw.name.len() <= 64
        && raw
            .name
            .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && raw
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid_name {
        problems.push(
            format!("{key}.name"),
            format!(
                "`{}` is not a field name; expected [A-Za-z_][A-Za-z0-9_]*, at most 64 characters",
                raw.name
            ),
        );
    }
    let key = format!("{key} ({})", raw.name);
    let ty = match raw.ty {
        RawType::String => "string",
        RawType::Integer => "integer",
        RawType::Decimal => "decimal",
        RawType::Timestamp => "timestamp",
        RawType::Boolean => "boolean",
    };
    let allowed: &[&str] = match raw.ty {
        RawType::String => &["min_length", "max_length", "pattern", "one_of"],
        RawType::Integer => &["min", "max"],
        RawType::Decimal => &["scale", "min", "max", "exclusive_min", "exclusive_max"],
        RawType::Timestamp | RawType::Boolean => &[],
    };
    let given = [
        ("min_length", raw.min_length.is_some()),
        ("max_length", raw.max_length.is_some()),
        ("pattern", raw.pattern.is_some()),
        ("one_of", raw.one_of.is_some()),
        ("scale", raw.scale.is_some()),
        ("min", raw.min.is_some()),
        ("max", raw.max.is_some()),
        ("exclusive_min", raw.exclusive_min.is_some()),
        ("exclusive_max", raw.exclusive_max.is_some()),
    ];
    for (name, present) in given {
        if present && !allowed.contains(&name) {
            problems.push(
                format!("{key}.{name}"),
                format!(
                    "does not apply to a {ty} field; it takes: {}",
                    list_or_none(allowed)
                ),
            );
        }
    }
    let kind = match raw.ty {
        RawType::String => {
            let min_length = raw.min_length.unwrap_or(0) as usize;
            let max_length = raw.max_length.unwrap_or(256) as usize;
            if min_length > max_length {
                problems.push(
                    format!("{key}.min_length"),
                    format!("{min_length} is above max_length {max_length}"),
                );
            }
            let pattern = raw.pattern.and_then(|p| match Regex::new(&p) {
                Ok(re) if p.starts_with('^') && p.ends_with('$') => Some(re),
                Ok(_) => {
                    problems.push(
                        format!("{key}.pattern"),
                        "anchor the pattern with ^ and $ so that it matches the whole value",
                    );
                    None
                }
                Err(e) => {
                    problems.push(format!("{key}.pattern"), format!("not a valid regex: {e}"));
                    None
                }
            });
            if raw.one_of.as_ref().is_some_and(Vec::is_empty) {
                problems.push(format!("{key}.one_of"), "must list at least one value");
            }
            FieldKind::String {
                min_length,
                max_length,
                pattern,
                one_of: raw.one_of,
            }
        }
        RawType::Integer => {
            let min = integer_bound(raw.min.as_ref(), &format!("{key}.min"), problems);
            let max = integer_bound(raw.max.as_ref(), &format!("{key}.max"), problems);
            let (min, max) = (min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX));
            if min > max {
                problems.push(format!("{key}.min"), format!("{min} is above max {max}"));
            }
            FieldKind::Integer { min, max }
        }
        RawType::Decimal => {
            let scale = raw.scale.unwrap_or(4);
            if scale > MAX_SCALE {
                problems.push(
                    format!("{key}.scale"),
                    format!("{scale} decimal places; at most {MAX_SCALE} are supported"),
                );
            }
            let scale = scale.min(MAX_SCALE);
            let lower = decimal_side(&raw.min, &raw.exclusive_min, "min", scale, &key, problems);
            let upper = decimal_side(&raw.max, &raw.exclusive_max, "max", scale, &key, problems);
            if let (Some(lo), Some(hi)) = (lower, upper) {
                let empty = lo.units > hi.units
                    || (lo.units == hi.units && !(lo.inclusive && hi.inclusive));
                if empty {
                    // Named at the upper bound, with both bounds as written: either may be
                    // the mistake.
                    let (low_key, low) = match (&raw.min, &raw.exclusive_min) {
                        (Some(v), _) => ("min", v),
                        (None, Some(v)) => ("exclusive_min", v),
                        (None, None) => unreachable!("a lower bound was parsed"),
                    };
                    let (high_key, high) = match (&raw.max, &raw.exclusive_max) {
                        (Some(v), _) => ("max", v),
                        (None, Some(v)) => ("exclusive_max", v),
                        (None, None) => unreachable!("an upper bound was parsed"),
                    };
                    problems.push(
                        format!("{key}.{high_key}"),
                        format!(
                            "no value is allowed: {low_key} = {low} and {high_key} = {high} leave an empty range"
                        ),
                    );
                }
            }
            FieldKind::Decimal {
                scale,
                lower,
                upper,
            }
        }
        RawType::Timestamp => FieldKind::Timestamp,
        RawType::Boolean => FieldKind::Boolean,
    };
    let generate = check_generate(
        raw.generate.unwrap_or_default(),
        &kind,
        raw.required,
        &key,
        problems,
    );
    FieldSpec {
        name: raw.name,
        required: raw.required,
        kind,
        generate,
    }
}

fn decimal_side(
    inclusive: &Option<toml::Value>,
    exclusive: &Option<toml::Value>,
    side: &str,
    scale: u32,
    key: &str,
    problems: &mut Problems,
) -> Option<Bound> {
    match (inclusive, exclusive) {
        (Some(_), Some(_)) => {
            problems.push(
                format!("{key}.{side}"),
                format!("give either {side} or exclusive_{side}, not both"),
            );
            None
        }
        (Some(v), None) => decimal_bound(v, scale, true, &format!("{key}.{side}"), problems),
        (None, Some(v)) => decimal_bound(
            v,
            scale,
            false,
            &format!("{key}.exclusive_{side}"),
            problems,
        ),
        (None, None) => None,
    }
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}

fn integer_bound(value: Option<&toml::Value>, key: &str, problems: &mut Problems) -> Option<i64> {
    match value? {
        toml::Value::Integer(i) => Some(*i),
        other => {
            problems.push(
                key,
                format!("expected an integer, found {}", other.type_str()),
            );
            None
        }
    }
}

fn decimal_bound(
    value: &toml::Value,
    scale: u32,
    inclusive: bool,
    key: &str,
    problems: &mut Problems,
) -> Option<Bound> {
    let units = decimal_units(value, scale, key, problems)?;
    Some(Bound { units, inclusive })
}

/// A decimal written in the spec (a string, or an integer), in units of `scale`.
fn decimal_units(
    value: &toml::Value,
    scale: u32,
    key: &str,
    problems: &mut Problems,
) -> Option<i64> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => {
            problems.push(
                key,
                format!("write decimals as strings so they stay exact, e.g. \"{f}\""),
            );
            return None;
        }
        other => {
            problems.push(
                key,
                format!(
                    "expected a decimal string such as \"0.01\", found {}",
                    other.type_str()
                ),
            );
            return None;
        }
    };
    match decimal::parse_units(&text, scale) {
        Ok(units) => Some(units),
        Err(DecimalError::TooPrecise { decimals }) => {
            problems.push(
                key,
                format!("`{text}` has {decimals} decimal places but the field's scale is {scale}"),
            );
            None
        }
        Err(_) => {
            problems.push(
                key,
                format!(
                    "`{text}` is not a plain decimal within ±{}",
                    i64::MAX / pow10(scale)
                ),
            );
            None
        }
    }
}

/// The generator hints, checked against the field: sample values must be valid values.
fn check_generate(
    raw: RawGenerate,
    kind: &FieldKind,
    required: bool,
    key: &str,
    problems: &mut Problems,
) -> Generate {
    let key = format!("{key}.generate");
    problems.unknown(
        &key,
        &raw.extra,
        &[
            "values",
            "cardinality",
            "prefix",
            "unique",
            "min",
            "max",
            "walk",
            "null_share",
            "true_share",
        ],
    );
    let is_string = matches!(kind, FieldKind::String { .. });
    let numeric = matches!(kind, FieldKind::Integer { .. } | FieldKind::Decimal { .. });
    let only = |present: bool, name: &str, ok: bool, what: &str, problems: &mut Problems| {
        if present && !ok {
            problems.push(format!("{key}.{name}"), format!("applies only to {what}"));
        }
    };
    only(
        raw.values.is_some(),
        "values",
        is_string,
        "string fields",
        problems,
    );
    only(
        raw.cardinality.is_some(),
        "cardinality",
        is_string,
        "string fields",
        problems,
    );
    only(
        raw.prefix.is_some(),
        "prefix",
        is_string,
        "string fields",
        problems,
    );
    only(
        raw.unique.is_some(),
        "unique",
        is_string,
        "string fields",
        problems,
    );
    only(
        raw.min.is_some(),
        "min",
        numeric,
        "integer and decimal fields",
        problems,
    );
    only(
        raw.max.is_some(),
        "max",
        numeric,
        "integer and decimal fields",
        problems,
    );
    only(
        raw.walk.is_some(),
        "walk",
        numeric,
        "integer and decimal fields",
        problems,
    );
    only(
        raw.true_share.is_some(),
        "true_share",
        matches!(kind, FieldKind::Boolean),
        "boolean fields",
        problems,
    );
    if raw.null_share.is_some() && required {
        problems.push(
            format!("{key}.null_share"),
            "applies only to optional fields (required = false)",
        );
    }
    let share = |value: Option<f64>, name: &str, default: f64, problems: &mut Problems| {
        let v = value.unwrap_or(default);
        if !(0.0..=1.0).contains(&v) {
            problems.push(
                format!("{key}.{name}"),
                format!("{v} is not a share from 0 to 1"),
            );
        }
        v.clamp(0.0, 1.0)
    };
    let null_share = share(raw.null_share, "null_share", 0.0, problems);
    let true_share = share(raw.true_share, "true_share", 0.5, problems);
    if let (Some(values), FieldKind::String { .. }) = (&raw.values, kind) {
        if values.is_empty() {
            problems.push(format!("{key}.values"), "list at least one value");
        }
        for value in values {
            if let Err(why) = string_fits(kind, value) {
                problems.push(
                    format!("{key}.values"),
                    format!("`{value}` is not a valid value of the field: {why}"),
                );
            }
        }
    }
    if let (Some(prefix), FieldKind::String { .. }) = (&raw.prefix, kind) {
        let sample = format!("{prefix}{}", raw.cardinality.unwrap_or(1).saturating_sub(1));
        if let Err(why) = string_fits(kind, &sample) {
            problems.push(
                format!("{key}.prefix"),
                format!("the values it makes (e.g. `{sample}`) are not valid: {why}"),
            );
        }
    }
    if raw.cardinality == Some(0) {
        problems.push(format!("{key}.cardinality"), "must be at least 1");
    }
    let units =
        |value: &Option<toml::Value>, name: &str, problems: &mut Problems| match (value, kind) {
            (Some(v), FieldKind::Decimal { scale, .. }) => {
                decimal_units(v, *scale, &format!("{key}.{name}"), problems)
            }
            (Some(v), FieldKind::Integer { .. }) => {
                integer_bound(Some(v), &format!("{key}.{name}"), problems)
            }
            _ => None,
        };
    let min = units(&raw.min, "min", problems);
    let max = units(&raw.max, "max", problems);
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        problems.push(format!("{key}.min"), "above generate.max");
    }
    let walk = raw.walk.as_deref().and_then(|w| match w.parse::<f64>() {
        Ok(step) if step > 0.0 && step < 1.0 => Some(step),
        _ => {
            problems.push(
                format!("{key}.walk"),
                format!("`{w}` is not a step share between 0 and 1, e.g. \"0.0005\""),
            );
            None
        }
    });
    Generate {
        values: raw.values,
        cardinality: raw.cardinality,
        prefix: raw.prefix,
        unique: raw.unique.unwrap_or(false),
        min,
        max,
        walk,
        null_share,
        true_share,
    }
}

/// A string field without listed values or a prefix gets the generator's made-up values
/// (`<name>-0`, `<name>-1`, …): they must pass the field's own checks, or the producer would
/// send only dead letters.
fn generated_strings_fit(i: usize, field: &FieldSpec, is_id: bool, problems: &mut Problems) {
    let FieldKind::String {
        one_of, min_length, ..
    } = &field.kind
    else {
        return;
    };
    let g = &field.generate;
    if is_id || g.unique || g.values.is_some() || g.prefix.is_some() || one_of.is_some() {
        return;
    }
    let mut sample = format!("{}-", field.name.replace('_', "-"));
    if sample.len() < *min_length {
        sample.push_str(&"0".repeat(*min_length - sample.len()));
    }
    sample.push('0');
    if let Err(why) = string_fits(&field.kind, &sample) {
        problems.push(
            format!("event.fields[{i}] ({}).generate", field.name),
            format!(
                "the generator would make values like `{sample}`, which are not valid ({why}): give generate.values or generate.prefix"
            ),
        );
    }
}

/// Whether a string passes the field's checks (length, pattern, allowed values).
pub(crate) fn string_fits(kind: &FieldKind, value: &str) -> Result<(), String> {
    let FieldKind::String {
        min_length,
        max_length,
        pattern,
        one_of,
    } = kind
    else {
        return Ok(());
    };
    let len = value.chars().count();
    if len < *min_length || len > *max_length {
        return Err(format!(
            "{len} characters; expected {min_length} to {max_length}"
        ));
    }
    if let Some(re) = pattern
        && !re.is_match(value)
    {
        return Err(format!("does not match {}", re.as_str()));
    }
    if let Some(allowed) = one_of
        && !allowed.iter().any(|a| a == value)
    {
        return Err(format!("not one of {}", allowed.join(", ")));
    }
    Ok(())
}
