//! The feature-writer's decoding of an MSK event's record on arbitrary input, with the Lambda's
//! own code (`lambdas/feature-writer/src/decode.rs`, compiled here without the AWS SDK), for
//! every shipped spec: the input's first byte chooses the spec (`config/pipelines/`, in name
//! order, modulo their number), the rest is the record's value (the Lambda sees it
//! base64-encoded), and, when it is base64 text, the encoded value itself. Nothing may panic,
//! and a record that decodes must be a JSON object the spec's columns describe, with its record
//! identifier and event time.
//!
//! The event's envelope (topic, offsets, timestamps) is written by the event source mapping,
//! not by a producer, and is parsed by `aws_lambda_events`; it is not fuzzed here. (Fuzzing it
//! found that aws_lambda_events 1.2.1 panics on a record timestamp with a fraction, which MSK
//! never sends.)

#![no_main]

use std::sync::LazyLock;

use aws_lambda_events::event::kafka::KafkaRecord;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use pipeline_core::features::{event_time_feature, record_identifier_feature};
use pipeline_core::{SHIPPED_SPECS, Spec};

#[path = "../../lambdas/feature-writer/src/decode.rs"]
mod decode;

static SPECS: LazyLock<Vec<Spec>> = LazyLock::new(|| {
    SHIPPED_SPECS
        .iter()
        .map(|(name, text)| Spec::from_toml(text, name).expect("a shipped spec loads"))
        .collect()
});

fn check(spec: &Spec, record: &KafkaRecord) {
    let Ok(features) = decode::decode(spec, record) else {
        return;
    };
    let value = base64::engine::general_purpose::STANDARD
        .decode(
            record
                .value
                .as_deref()
                .expect("a decoded record has a value"),
        )
        .expect("a decoded record's value is base64");
    let json: serde_json::Value =
        serde_json::from_slice(&value).expect("a decoded record's value is JSON");
    let object = json
        .as_object()
        .expect("a decoded record's value is an object");
    let columns: Vec<String> = spec.output_columns().into_iter().map(|c| c.name).collect();
    for (name, text) in &features.values {
        assert!(
            columns.contains(name),
            "feature `{name}` is not a column of the spec"
        );
        assert!(
            object.contains_key(name),
            "feature `{name}` is not in the aggregate"
        );
        assert!(!text.is_empty(), "feature `{name}` has an empty value");
    }
    for required in [record_identifier_feature(spec), event_time_feature()] {
        assert!(
            features.get(required).is_some(),
            "no `{required}` in {features:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((choice, data)) = data.split_first() else {
        return;
    };
    let spec = &SPECS[usize::from(*choice) % SPECS.len()];
    let mut record = KafkaRecord::default();
    record.value = Some(base64::engine::general_purpose::STANDARD.encode(data));
    check(spec, &record);
    // The value as the Lambda receives it, which may not be base64 at all.
    if let Ok(text) = std::str::from_utf8(data) {
        record.value = Some(text.to_owned());
        check(spec, &record);
    }
});
