//! The windows (`[window]`) and the columns computed from them (`[[window.columns]]`).

use chrono_tz::Tz;

use super::fields::duration;
use super::raw::{RawWindow, RawWindowColumn};
use super::{Problems, WindowColumn, WindowEdge, WindowSpec};
use crate::duration::format_millis;

/// The largest state budget a spec may give: keys in one window of one partition.
const MAX_KEYS_PER_WINDOW: u64 = 100_000_000;

pub(super) fn check_window(raw: &RawWindow, problems: &mut Problems) -> Option<WindowSpec> {
    problems.unknown(
        "window",
        &raw.extra,
        &[
            "type",
            "size",
            "slide",
            "allowed_lateness",
            "idle_timeout",
            "max_keys",
            "columns",
        ],
    );
    let size = duration(&raw.size, "window.size", problems);
    let lateness = duration(&raw.allowed_lateness, "window.allowed_lateness", problems);
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
    let slide = match (raw.ty.as_str(), &raw.slide) {
        ("tumbling", None) => size,
        ("tumbling", Some(_)) => {
            problems.push("window.slide", "applies only to type = \"hopping\"");
            None
        }
        ("hopping", None) => {
            problems.push("window.slide", "hopping windows need a slide, e.g. \"30s\"");
            None
        }
        ("hopping", Some(s)) => duration(s, "window.slide", problems),
        (other, _) => {
            problems.push(
                "window.type",
                format!("`{other}` is not a window type; expected tumbling or hopping"),
            );
            None
        }
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
    let (size, slide, lateness, idle_timeout, max_keys) =
        (size?, slide?, lateness?, idle_timeout?, max_keys?);
    let mut ok = true;
    if size <= 0 || size > 86_400_000 {
        problems.push(
            "window.size",
            format!("{} is out of range; expected 1ms to 1d", raw.size),
        );
        ok = false;
    } else if slide <= 0 || slide > size || size % slide != 0 {
        problems.push(
            "window.slide",
            format!(
                "{} must be positive and divide the window size {} evenly",
                format_millis(slide),
                format_millis(size)
            ),
        );
        ok = false;
    } else if size / slide > 60 {
        problems.push(
            "window.slide",
            "puts each event in more than 60 windows; use a larger slide",
        );
        ok = false;
    }
    if !(0..=86_400_000).contains(&lateness) {
        problems.push("window.allowed_lateness", "expected 0s to 1d");
        ok = false;
    }
    ok.then_some(WindowSpec {
        size_ms: size,
        slide_ms: slide,
        allowed_lateness_ms: lateness,
        idle_timeout_ms: idle_timeout,
        max_keys,
    })
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
