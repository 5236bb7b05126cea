//! Amazon Data Firehose: aggregates as newline-delimited JSON records, sent with
//! `PutRecordBatch` within the API's hard limits. A call that fails as a whole is retried by the
//! SDK (standard retry mode); a call that succeeds with some entries failed (`FailedPutCount`)
//! has only those entries resent here, with exponential backoff and full jitter, until they are
//! in or the attempts run out. Nothing is dropped silently: every record ends up sent, or in the
//! report as failed or refused, with its error.

use std::hash::{BuildHasher as _, RandomState};
use std::time::Duration;

use aws_sdk_firehose::Client;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;

use crate::error::AwsError;

/// Records per `PutRecordBatch` call.
pub const MAX_RECORDS_PER_CALL: usize = 500;
/// Bytes per `PutRecordBatch` call, all records' data together.
pub const MAX_BYTES_PER_CALL: usize = 4 * 1024 * 1024;
/// Bytes of one record's data (1,000 KiB), its trailing newline included.
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;

/// How entries that fail inside a successful call are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRetry {
    /// Sends of one record, the first included.
    pub max_attempts: u32,
    /// The first resend waits up to this long; each later one up to twice the previous.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for EntryRetry {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl EntryRetry {
    /// Full jitter: a uniformly random wait up to the exponential bound of this retry.
    fn backoff(&self, retry: u32) -> Duration {
        let bound = self
            .initial_backoff
            .saturating_mul(1 << retry.min(20))
            .min(self.max_backoff);
        let random = RandomState::new().hash_one(retry);
        bound.mul_f64((random >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// A record that did not get in, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    /// Its index in what was given to [`FirehoseSink::send`].
    pub index: usize,
    pub code: String,
    pub message: String,
}

/// What became of the records of one [`FirehoseSink::send`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Records Firehose accepted.
    pub sent: u64,
    /// Resends of entries that failed inside a successful call.
    pub retried: u64,
    /// `PutRecordBatch` calls made (the SDK's own retries of a whole call not counted).
    pub calls: u64,
    /// Records still failing after every attempt, or whose call failed as a whole.
    pub failed: Vec<Undelivered>,
    /// Records never sent because the API cannot take them (over [`MAX_RECORD_BYTES`]).
    pub refused: Vec<Undelivered>,
}

impl Delivery {
    /// Whether every record got in.
    pub fn complete(&self) -> bool {
        self.failed.is_empty() && self.refused.is_empty()
    }
}

/// Splits records (sizes in bytes, newline included) into calls within the API's limits, in
/// order; records too big for any call are returned apart. A call is a list of indices.
pub fn plan_calls(sizes: &[usize]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut calls: Vec<Vec<usize>> = Vec::new();
    let mut oversized = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = 0;
    for (index, &size) in sizes.iter().enumerate() {
        if size > MAX_RECORD_BYTES {
            oversized.push(index);
            continue;
        }
        if current.len() == MAX_RECORDS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL {
            calls.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(index);
        bytes += size;
    }
    if !current.is_empty() {
        calls.push(current);
    }
    (calls, oversized)
}

/// Sends aggregates to one Firehose stream.
#[derive(Debug, Clone)]
pub struct FirehoseSink {
    client: Client,
    stream: String,
    retry: EntryRetry,
}

impl FirehoseSink {
    pub fn new(config: &aws_config::SdkConfig, stream: impl Into<String>) -> Self {
        Self::from_client(Client::new(config), stream)
    }

    pub fn from_client(client: Client, stream: impl Into<String>) -> Self {
        Self {
            client,
            stream: stream.into(),
            retry: EntryRetry::default(),
        }
    }

    #[must_use]
    pub fn with_entry_retry(mut self, retry: EntryRetry) -> Self {
        self.retry = retry;
        self
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Sends each of `lines` (one JSON document each, without a newline) as one record ending
    /// in a newline, so the objects Firehose writes are newline-delimited JSON.
    pub async fn send(&self, lines: &[impl AsRef<[u8]>]) -> Delivery {
        let sizes: Vec<usize> = lines.iter().map(|l| l.as_ref().len() + 1).collect();
        let (calls, oversized) = plan_calls(&sizes);
        let mut delivery = Delivery {
            refused: oversized
                .into_iter()
                .map(|index| Undelivered {
                    index,
                    code: "RecordTooLarge".into(),
                    message: format!(
                        "{} bytes with its newline; Firehose takes at most {MAX_RECORD_BYTES}",
                        sizes[index]
                    ),
                })
                .collect(),
            ..Delivery::default()
        };
        for call in calls {
            self.send_call(lines, call, &mut delivery).await;
        }
        delivery
    }

    /// One call's records, resending failed entries until they are in or out of attempts.
    async fn send_call(
        &self,
        lines: &[impl AsRef<[u8]>],
        mut pending: Vec<usize>,
        delivery: &mut Delivery,
    ) {
        for attempt in 0..self.retry.max_attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(self.retry.backoff(attempt - 1)).await;
                delivery.retried += pending.len() as u64;
            }
            let records: Result<Vec<Record>, _> = pending
                .iter()
                .map(|&index| {
                    let mut data = Vec::with_capacity(lines[index].as_ref().len() + 1);
                    data.extend_from_slice(lines[index].as_ref());
                    data.push(b'\n');
                    Record::builder().data(Blob::new(data)).build()
                })
                .collect();
            let records = match records {
                Ok(records) => records,
                Err(error) => {
                    fail_all(delivery, pending, "Invalid", &error.to_string());
                    return;
                }
            };
            delivery.calls += 1;
            let output = match self
                .client
                .put_record_batch()
                .delivery_stream_name(&self.stream)
                .set_records(Some(records))
                .send()
                .await
            {
                Ok(output) => output,
                Err(error) => {
                    // The SDK has retried what was worth retrying; the whole call is lost.
                    let error = AwsError::from_sdk("PutRecordBatch", error);
                    let (AwsError::Transient { code, .. } | AwsError::Refused { code, .. }) =
                        &error;
                    fail_all(delivery, pending, code, &error.to_string());
                    return;
                }
            };
            let responses = output.request_responses();
            if output.failed_put_count() == 0 && responses.iter().all(|r| r.error_code().is_none())
            {
                delivery.sent += pending.len() as u64;
                return;
            }
            let mut still = Vec::new();
            let mut last_errors = Vec::new();
            for (position, &index) in pending.iter().enumerate() {
                match responses.get(position) {
                    Some(response) if response.error_code().is_none() => delivery.sent += 1,
                    response => {
                        still.push(index);
                        last_errors.push(response.map_or_else(
                            || ("NoResponse".to_owned(), "no entry in the answer".to_owned()),
                            |r| {
                                (
                                    r.error_code().unwrap_or_default().to_owned(),
                                    r.error_message().unwrap_or_default().to_owned(),
                                )
                            },
                        ));
                    }
                }
            }
            if attempt + 1 == self.retry.max_attempts.max(1) {
                delivery
                    .failed
                    .extend(
                        still
                            .into_iter()
                            .zip(last_errors)
                            .map(|(index, (code, message))| Undelivered {
                                index,
                                code,
                                message,
                            }),
                    );
                return;
            }
            pending = still;
        }
    }
}

fn fail_all(delivery: &mut Delivery, indices: Vec<usize>, code: &str, message: &str) {
    delivery
        .failed
        .extend(indices.into_iter().map(|index| Undelivered {
            index,
            code: code.to_owned(),
            message: message.to_owned(),
        }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_500_records_make_one_call_and_501_make_two() {
        let (calls, oversized) = plan_calls(&[100; 500]);
        assert_eq!((calls.len(), calls[0].len()), (1, 500));
        assert!(oversized.is_empty());
        let (calls, _) = plan_calls(&[100; 501]);
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), vec![500, 1]);
    }

    #[test]
    fn a_call_never_crosses_4_mib() {
        // Five records of 900 KiB: four fit in 4 MiB (3.5 MiB), the fifth does not.
        let (calls, _) = plan_calls(&[900 * 1024; 5]);
        assert_eq!(calls, vec![vec![0, 1, 2, 3], vec![4]]);
        for call in calls {
            assert!(call.len() * 900 * 1024 <= MAX_BYTES_PER_CALL);
        }
        // Exactly 4 MiB fits in one call.
        let (calls, _) = plan_calls(&[MAX_BYTES_PER_CALL / 8; 8]);
        assert_eq!(calls.len(), 1);
    }

    #[test]
    fn an_oversized_record_is_set_apart_and_the_order_of_the_rest_kept() {
        let (calls, oversized) = plan_calls(&[10, MAX_RECORD_BYTES + 1, 10, MAX_RECORD_BYTES]);
        assert_eq!(oversized, vec![1]);
        assert_eq!(calls, vec![vec![0, 2, 3]]);
    }

    #[test]
    fn backoff_stays_within_its_exponential_bound() {
        let retry = EntryRetry {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
        };
        for attempt in 0..10 {
            let bound = Duration::from_millis(100 << attempt.min(3));
            for _ in 0..50 {
                assert!(retry.backoff(attempt) <= bound);
            }
        }
        // Jittered: not every wait is the bound.
        let waits: std::collections::BTreeSet<_> = (0..20).map(|_| retry.backoff(2)).collect();
        assert!(waits.len() > 1);
    }
}
