//! The tick decoder and validator on arbitrary record values: it must never panic, must give
//! the same verdict with a fresh decoder and a warm one (its key memo), must accept only JSON
//! objects that serde_json also reads, and what it accepts must satisfy the spec's bounds.
//! The partition state (windowing) must agree with the decoder on a first record.
//!
//! Input: 8 bytes of record timestamp (little-endian milliseconds), then the record value; an
//! input of 8 bytes or fewer is the value alone at a fixed timestamp.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use pipeline_core::tick::Decoder;
use pipeline_core::{Outcome, Partition, Record, STOCK_TICKS_SPEC, Spec};

static SPEC: LazyLock<Spec> =
    LazyLock::new(|| Spec::from_toml(STOCK_TICKS_SPEC, "built-in").expect("the built-in spec"));

/// A warm decoder, kept across inputs as a partition's is across records.
static WARM: LazyLock<std::sync::Mutex<Decoder>> =
    LazyLock::new(|| std::sync::Mutex::new(Decoder::new(&SPEC)));

const FIXED_TIME_MS: i64 = 1_764_600_000_000;

fuzz_target!(|data: &[u8]| {
    let (record_time_ms, value) = match data.split_first_chunk::<8>() {
        Some((time, rest)) if !rest.is_empty() => (i64::from_le_bytes(*time), rest),
        _ => (FIXED_TIME_MS, data),
    };
    let fresh = Decoder::new(&SPEC).decode(Some(value), record_time_ms);
    let warm = WARM.lock().unwrap().decode(Some(value), record_time_ms);
    match (&fresh, &warm) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "a warm decoder read the record differently"),
        (Err(a), Err(b)) => assert_eq!(
            a.reason, b.reason,
            "a warm decoder refused it for another reason"
        ),
        _ => panic!("fresh {fresh:?} and warm {warm:?} decoders disagree"),
    }
    if let Ok(tick) = &fresh {
        let parsed: serde_json::Value = serde_json::from_slice(value)
            .unwrap_or_else(|e| panic!("accepted what is not JSON ({e}): {tick:?}"));
        assert!(parsed.is_object(), "accepted JSON that is not an object");
        assert!(
            tick.price_units > 0,
            "accepted a price that is not positive"
        );
        assert!(tick.volume >= 1, "accepted a volume below 1");
        let event = &SPEC.event;
        assert!(
            tick.event_time_ms <= record_time_ms.saturating_add(event.max_future_skew_ms)
                && tick.event_time_ms >= record_time_ms.saturating_sub(event.max_past_skew_ms),
            "accepted an event time outside the skew bounds"
        );
    }
    // The first record of a partition: windowing adds nothing to the decoder's verdict.
    let mut partition = Partition::new(&SPEC);
    let mut closed = Vec::new();
    let record = Record {
        offset: 0,
        timestamp_ms: record_time_ms,
        payload: Some(value),
    };
    match (partition.process(record, &mut closed), &fresh) {
        (Outcome::Accepted { .. }, Ok(_)) => {}
        (Outcome::Rejected(r), Err(d)) => assert_eq!(r.reason, d.reason),
        (outcome, _) => panic!("the partition said {outcome:?}, the decoder {fresh:?}"),
    }
});
