//! The windows (`[window]`) and the columns computed from them (`[[window.columns]]`).

use chrono_tz::Tz;

use super::fields::duration;
use super::raw::{RawWindow, RawWindowColumn};
use super::{Problems, SessionSpec, WindowColumn, WindowEdge, WindowSpec};
use crate::duration::format_millis;

/// The largest state budget a spec may give: keys in one window of one partition.
const MAX_KEYS_PER_WINDOW: u64 = 100_000_000;

/// A session's cap when the spec gives none: one day.
const DEFAULT_MAX_SESSION_MS: i64 = 86_400_000;

/// The longest `max_duration` a spec may give: seven days.
const MAX_SESSION_MS: i64 = 7 * 86_400_000;

pub(super) fn check_window(raw: &RawWindow, problems: &mut Problems) -> Option<WindowSpec> {
    problems.unknown(
        "window",
        &raw.extra,
        &[
            "type",
            "size",
            "slide",
            "gap",
            "max_duration",
            "allowed_lateness",
            "idle_timeout",
            "max_keys",
            "columns",
        ],
    );
    let lateness =
        duration(&raw.allowed_lateness, "window.allowed_lateness", problems).filter(|ms| {
            let ok = (0..=86_400_000).contains(ms);
            if !ok {
                problems.push("window.allowed_lateness", "expected 0s to 1d");
            }
            ok
        });
    let idle_timeout = match &raw.idle_timeout {
        None => Some(None),
        Some(text) => match duration(text, "window.idle_timeout", problems) {
            Some(ms) if (1_000..=86_400_000).contains(&ms) => Some(Some(ms)),
            Some(_) => {
                problems.push("window.idle_timeout", "expected 1s to 1d");
                None
            }
            None => None,
        },
    };
    let max_keys = match raw.max_keys {
        None => Some(None),
        Some(n) if (1..=MAX_KEYS_PER_WINDOW).contains(&n) => Some(Some(n as usize)),
        Some(n) => {
            problems.push(
                "window.max_keys",
                format!("{n} is out of range; expected 1 to {MAX_KEYS_PER_WINDOW}"),
            );
            None
        }
    };
    let shape = match raw.ty.as_str() {
        "tumbling" | "hopping" => fixed_shape(raw, problems),
        "session" => session_shape(raw, problems),
        other => {
            problems.push(
                "window.type",
                format!("`{other}` is not a window type; expected tumbling, hopping or session"),
            );
            None
        }
    };
    if raw.ty == "session" && raw.max_keys.is_some() {
        problems.push(
            "window.max_keys",
            "applies only to tumbling and hopping windows (a session window's state is bounded by its gap)",
        );
    }
    let (shape, lateness, idle_timeout, max_keys) = (shape?, lateness?, idle_timeout?, max_keys?);
    let (size_ms, slide_ms, session) = shape;
    Some(WindowSpec {
        size_ms,
        slide_ms,
        session,
        allowed_lateness_ms: lateness,
        idle_timeout_ms: idle_timeout,
        max_keys: max_keys.filter(|_| session.is_none()),
    })
}

/// Size, slide and session of a window spec.
type Shape = (i64, i64, Option<SessionSpec>);

/// `size` (and, hopping, `slide`) of tumbling and hopping windows.
fn fixed_shape(raw: &RawWindow, problems: &mut Problems) -> Option<Shape> {
    for (key, value) in [("gap", &raw.gap), ("max_duration", &raw.max_duration)] {
        if value.is_some() {
            problems.push(
                format!("window.{key}"),
                "applies only to type = \"session\"",
            );
        }
    }
    let Some(size_text) = &raw.size else {
        problems.push(
            "window.size",
            format!("{} windows need a size, e.g. \"1m\"", raw.ty),
        );
        return None;
    };
    let size = duration(size_text, "window.size", problems);
    let slide = match (raw.ty.as_str(), &raw.slide) {
        ("hopping", None) => {
            problems.push("window.slide", "hopping windows need a slide, e.g. \"30s\"");
            None
        }
        ("hopping", Some(s)) => duration(s, "window.slide", problems),
        (_, None) => size,
        (_, Some(_)) => {
            problems.push("window.slide", "applies only to type = \"hopping\"");
            None
        }
    };
    let (size, slide) = (size?, slide?);
    if size <= 0 || size > 86_400_000 {
        problems.push(
            "window.size",
            format!("{size_text} is out of range; expected 1ms to 1d"),
        );
        return None;
    }
    if slide <= 0 || slide > size || size % slide != 0 {
        problems.push(
            "window.slide",
            format!(
                "{} must be positive and divide the window size {} evenly",
                format_millis(slide),
                format_millis(size)
            ),
        );
        return None;
    }
    if size / slide > 60 {
        problems.push(
            "window.slide",
            "puts each event in more than 60 windows; use a larger slide",
        );
        return None;
    }
    Some((size, slide, None))
}

/// `gap` and `max_duration` of session windows.
fn session_shape(raw: &RawWindow, problems: &mut Problems) -> Option<Shape> {
    for (key, value) in [("size", &raw.size), ("slide", &raw.slide)] {
        if value.is_some() {
            problems.push(
                format!("window.{key}"),
                "does not apply to type = \"session\"; use gap and max_duration",
            );
        }
    }
    let gap = match &raw.gap {
        None => {
            problems.push(
                "window.gap",
                "session windows need a gap, e.g. \"30m\": events of a key this close make one session",
            );
            None
        }
        Some(text) => duration(text, "window.gap", problems),
    };
    let max_duration = match &raw.max_duration {
        None => Some(DEFAULT_MAX_SESSION_MS),
        Some(text) => duration(text, "window.max_duration", problems),
    };
    let (gap, max_duration) = (gap?, max_duration?);
    if gap <= 0 || gap > 86_400_000 {
        problems.push(
            "window.gap",
            format!("{} is out of range; expected 1ms to 1d", format_millis(gap)),
        );
        return None;
    }
    if max_duration <= gap || max_duration > MAX_SESSION_MS {
        problems.push(
            "window.max_duration",
            format!(
                "{} is out of range; expected more than the gap ({}) and at most 7d",
                format_millis(max_duration),
                format_millis(gap)
            ),
        );
        return None;
    }
    Some((
        max_duration,
        max_duration,
        Some(SessionSpec {
            gap_ms: gap,
            max_duration_ms: max_duration,
        }),
    ))
}

pub(super) fn check_columns(
    raw: Vec<RawWindowColumn>,
    problems: &mut Problems,
) -> Vec<WindowColumn> {
    let mut columns = Vec::new();
    for (i, c) in raw.into_iter().enumerate() {
        let key = format!("window.columns[{i}] ({})", c.name);
        problems.unknown(&key, &c.extra, &["name", "function", "of", "zone"]);
        if c.function != "date_of" {
            problems.push(
                format!("{key}.function"),
                format!(
                    "`{}` is not a window function; expected date_of",
                    c.function
                ),
            );
            continue;
        }
        let of = match c.of.as_deref() {
            Some("window_start") | None => WindowEdge::Start,
            Some("window_end") => WindowEdge::End,
            Some(other) => {
                problems.push(
                    format!("{key}.of"),
                    format!("`{other}` is not a window edge; expected window_start or window_end"),
                );
                continue;
            }
        };
        let zone = match c.zone.as_deref().unwrap_or("UTC").parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                problems.push(
                    format!("{key}.zone"),
                    format!(
                        "`{}` is not an IANA time zone name; expected e.g. \"America/New_York\"",
                        c.zone.unwrap_or_default()
                    ),
                );
                continue;
            }
        };
        columns.push(WindowColumn {
            name: c.name,
            of,
            zone,
        });
    }
    columns
}
