//! One record of the MSK event to a feature record.

use aws_lambda_events::event::kafka::KafkaRecord;
use base64::Engine as _;
use pipeline_core::Spec;
use pipeline_core::features::{FeatureRecord, record_from_aggregate};

/// Decodes one record of the event into a feature record, or says why it cannot be used.
pub fn decode(spec: &Spec, record: &KafkaRecord) -> Result<FeatureRecord, String> {
    let value = record.value.as_deref().ok_or("the record has no value")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| format!("the value is not base64: {e}"))?;
    record_from_aggregate(spec, &bytes).map_err(|e| format!("not an aggregate: {e}"))
}
