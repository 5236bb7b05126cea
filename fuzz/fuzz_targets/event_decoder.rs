//! The event decoder and validator of every shipped spec on arbitrary record values: it must
//! never panic, must give the same verdict with a fresh decoder and a warm one (its memos),
//! must accept only JSON objects that serde_json also reads, and what it accepts must satisfy
//! the spec's declarations (bounds of integers and decimals, event-time skew, required fields).
//! The partition state (filter, windowing) must agree with the decoder on a first record.
//!
//! Input: one byte choosing the spec (`config/pipelines/`, in name order, modulo their number),
//! 8 bytes of record timestamp (little-endian milliseconds), then the record value; a shorter
//! input is the value alone, for the first spec at a fixed timestamp.

#![no_main]

use std::sync::{LazyLock, Mutex};

use libfuzzer_sys::fuzz_target;
use pipeline_core::spec::FieldKind;
use pipeline_core::{Decoder, Event, Outcome, Partition, Record, SHIPPED_SPECS, Spec};

/// Each shipped spec with a warm decoder, kept across inputs as a partition's is across records.
static SPECS: LazyLock<Vec<(Spec, Mutex<Decoder>)>> = LazyLock::new(|| {
    SHIPPED_SPECS
        .iter()
        .map(|(name, text)| {
            let spec = Spec::from_toml(text, name).expect("a shipped spec loads");
            let decoder = Mutex::new(Decoder::new(&spec));
            (spec, decoder)
        })
        .collect()
});

const FIXED_TIME_MS: i64 = 1_764_600_000_000;

/// What two decodings of one record must agree on.
fn verdict(event: &Event) -> impl PartialEq + std::fmt::Debug {
    (
        event.key.as_str().to_owned(),
        event.id_hash,
        event.event_time_ms,
        event.present,
        event.values,
        event.filtered,
    )
}

fuzz_target!(|data: &[u8]| {
    let (choice, record_time_ms, value) = match data {
        [choice, rest @ ..] if rest.len() > 8 => {
            let (time, value) = rest.split_at(8);
            let time = i64::from_le_bytes(time.try_into().expect("8 bytes"));
            (usize::from(*choice) % SPECS.len(), time, value)
        }
        _ => (0, FIXED_TIME_MS, data),
    };
    let (spec, warm) = &SPECS[choice];
    let fresh = Decoder::new(spec).decode(Some(value), record_time_ms);
    let warmed = warm
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .decode(Some(value), record_time_ms);
    match (&fresh, &warmed) {
        (Ok(a), Ok(b)) => assert_eq!(
            verdict(a),
            verdict(b),
            "a warm decoder read the record differently"
        ),
        (Err(a), Err(b)) => assert_eq!(
            a.reason, b.reason,
            "a warm decoder refused it for another reason"
        ),
        _ => panic!("fresh {fresh:?} and warm {warmed:?} decoders disagree"),
    }
    if let Ok(event) = &fresh {
        let parsed: serde_json::Value = serde_json::from_slice(value)
            .unwrap_or_else(|e| panic!("accepted what is not JSON ({e}): {event:?}"));
        assert!(parsed.is_object(), "accepted JSON that is not an object");
        for (slot, field) in spec.event.fields.iter().enumerate() {
            let present = event.present & (1 << slot) != 0;
            assert!(
                present || !field.required,
                "accepted an event without required `{}`",
                field.name
            );
            if !present {
                continue;
            }
            let units = event.values[slot];
            match &field.kind {
                FieldKind::Integer { min, max } => assert!(
                    (*min..=*max).contains(&units),
                    "accepted `{}` = {units} outside [{min}, {max}]",
                    field.name
                ),
                FieldKind::Decimal { lower, upper, .. } => {
                    if let Some(lower) = lower {
                        assert!(
                            units > lower.units || (lower.inclusive && units == lower.units),
                            "accepted `{}` = {units} units below its minimum",
                            field.name
                        );
                    }
                    if let Some(upper) = upper {
                        assert!(
                            units < upper.units || (upper.inclusive && units == upper.units),
                            "accepted `{}` = {units} units above its maximum",
                            field.name
                        );
                    }
                }
                _ => {}
            }
        }
        let event_spec = &spec.event;
        assert!(
            event.event_time_ms <= record_time_ms.saturating_add(event_spec.max_future_skew_ms)
                && event.event_time_ms
                    >= record_time_ms.saturating_sub(event_spec.max_past_skew_ms),
            "accepted an event time outside the skew bounds"
        );
    }
    // The first record of a partition: windowing adds nothing to the decoder's verdict.
    let mut partition = Partition::new(spec);
    let mut closed = Vec::new();
    let record = Record {
        offset: 0,
        timestamp_ms: record_time_ms,
        payload: Some(value),
    };
    match (partition.process(record, &mut closed), &fresh) {
        (Outcome::Accepted { .. }, Ok(event)) => assert!(!event.filtered),
        (Outcome::Filtered, Ok(event)) => assert!(event.filtered),
        (Outcome::Rejected(r), Err(d)) => assert_eq!(r.reason, d.reason),
        (outcome, _) => panic!("the partition said {outcome:?}, the decoder {fresh:?}"),
    }
});
