//! Aggregates beyond Kafka. After each committed batch the service hands that batch's
//! aggregates to a [`Forwarder`], which delivers them on a thread of its own to an
//! [`AggregateSink`] (Firehose in AWS). Only committed aggregates leave, so a sink never sees
//! an aggregate that a restart could take back. The queue between them holds a bounded number
//! of batches: when the sink falls behind, the service waits (backpressure) instead of growing.
//! On shutdown the queue is drained before the process exits.
//!
//! A record the sink could not deliver after its retries is logged (its `aggregate_id`, the
//! error; never the payload) and counted; it stays on the aggregates topic, from which it can
//! be replayed.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pipeline_aws::AwsSettings;
use pipeline_aws::firehose::FirehoseSink;

/// What became of one batch handed to a sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkReport {
    pub sent: u64,
    /// Resends of records that failed at first.
    pub retried: u64,
    /// Records not delivered: their index in the batch, an error code and message.
    pub failed: Vec<(usize, String, String)>,
}

/// Where committed aggregates go.
pub trait AggregateSink: Send {
    /// A short name for logs and metrics.
    fn name(&self) -> &str;
    /// Delivers one batch (each aggregate's JSON), retrying as the destination needs.
    fn deliver(&mut self, aggregates: &[String]) -> SinkReport;
}

/// Totals since the forwarder started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkCounts {
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
    /// Batches handed over and not yet delivered.
    pub queued: u64,
}

/// The sink's thread and the bounded queue in front of it.
pub struct Forwarder {
    name: String,
    sender: Option<SyncSender<Vec<String>>>,
    worker: Option<JoinHandle<()>>,
    counts: Arc<Mutex<SinkCounts>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("sink", &self.name)
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

/// The forwarder's thread is gone (it panicked); what it had not delivered is on the
/// aggregates topic.
#[derive(Debug, thiserror::Error)]
#[error("the {0} sink has stopped")]
pub struct SinkStopped(String);

impl Forwarder {
    /// Starts the sink's thread; at most `capacity` batches wait for it.
    pub fn start(sink: Box<dyn AggregateSink>, capacity: usize) -> std::io::Result<Self> {
        let name = sink.name().to_owned();
        let (sender, receiver) = sync_channel(capacity.max(1));
        let counts = Arc::new(Mutex::new(SinkCounts::default()));
        let worker = {
            let counts = Arc::clone(&counts);
            std::thread::Builder::new()
                .name(format!("sink-{name}"))
                .spawn(move || drain(sink, &receiver, &counts))?
        };
        Ok(Self {
            name,
            sender: Some(sender),
            worker: Some(worker),
            counts,
        })
    }

    /// Hands over one committed batch, waiting while the queue is full.
    pub fn forward(&self, aggregates: Vec<String>) -> Result<(), SinkStopped> {
        if aggregates.is_empty() {
            return Ok(());
        }
        let Some(sender) = &self.sender else {
            return Err(SinkStopped(self.name.clone()));
        };
        lock(&self.counts).queued += 1;
        sender
            .send(aggregates)
            .map_err(|_| SinkStopped(self.name.clone()))
    }

    pub fn counts(&self) -> SinkCounts {
        *lock(&self.counts)
    }

    /// Delivers what is queued, stops the thread, and returns the totals.
    pub fn finish(mut self) -> SinkCounts {
        self.stop();
        self.counts()
    }

    fn stop(&mut self) {
        drop(self.sender.take());
        if let Some(worker) = self.worker.take()
            && worker.join().is_err()
        {
            tracing::error!(sink = %self.name, "the sink thread panicked");
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock(counts: &Mutex<SinkCounts>) -> std::sync::MutexGuard<'_, SinkCounts> {
    counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn drain(
    mut sink: Box<dyn AggregateSink>,
    receiver: &Receiver<Vec<String>>,
    counts: &Mutex<SinkCounts>,
) {
    for batch in receiver {
        let report = sink.deliver(&batch);
        for (index, code, message) in &report.failed {
            tracing::error!(
                sink = sink.name(),
                aggregate_id = batch.get(*index).map_or("?", |json| aggregate_id(json)),
                code = %code,
                error = %message,
                "aggregate not delivered; it remains on the aggregates topic for replay"
            );
        }
        let mut counts = lock(counts);
        counts.sent += report.sent;
        counts.retried += report.retried;
        counts.failed += report.failed.len() as u64;
        counts.queued = counts.queued.saturating_sub(1);
    }
}

/// The `aggregate_id` of an aggregate's JSON (its first field), for logs.
fn aggregate_id(json: &str) -> &str {
    json.strip_prefix(r#"{"aggregate_id":""#)
        .and_then(|rest| rest.split_once('"'))
        .map_or("?", |(id, _)| id)
}

/// Firehose as an [`AggregateSink`]: one `PutRecordBatch` call per 500 records or 4 MiB, failed
/// entries resent with backoff and jitter (see [`FirehoseSink`]).
#[derive(Debug)]
pub struct FirehoseAggregates {
    sink: FirehoseSink,
    runtime: tokio::runtime::Runtime,
}

impl FirehoseAggregates {
    /// A client for `stream` from the standard AWS configuration chain (`AWS_ENDPOINT_URL`
    /// points it at an emulator).
    pub fn new(stream: &str, aws: &AwsSettings) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let config = runtime.block_on(aws.load());
        Ok(Self {
            sink: FirehoseSink::new(&config, stream),
            runtime,
        })
    }
}

impl AggregateSink for FirehoseAggregates {
    fn name(&self) -> &str {
        "firehose"
    }

    fn deliver(&mut self, aggregates: &[String]) -> SinkReport {
        let delivery = self.runtime.block_on(self.sink.send(aggregates));
        SinkReport {
            sent: delivery.sent,
            retried: delivery.retried,
            failed: delivery
                .failed
                .into_iter()
                .chain(delivery.refused)
                .map(|u| (u.index, u.code, u.message))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::mpsc;

    use super::*;

    /// Delivers nothing until told to, then records what it got; fails aggregates named `bad`.
    struct Gate {
        open: Receiver<()>,
        got: Arc<Mutex<Vec<String>>>,
    }

    impl AggregateSink for Gate {
        fn name(&self) -> &str {
            "gate"
        }
        fn deliver(&mut self, aggregates: &[String]) -> SinkReport {
            self.open.recv().unwrap();
            let mut report = SinkReport::default();
            for (index, aggregate) in aggregates.iter().enumerate() {
                if aggregate.contains("bad") {
                    report.failed.push((index, "Refused".into(), "bad".into()));
                } else {
                    self.got.lock().unwrap().push(aggregate.clone());
                    report.sent += 1;
                }
            }
            report
        }
    }

    fn aggregate(id: &str) -> String {
        format!(r#"{{"aggregate_id":"{id}","ticker":"X"}}"#)
    }

    #[test]
    fn a_full_queue_holds_the_caller_back_and_finish_delivers_everything() {
        let (open, gate) = mpsc::channel();
        let got = Arc::new(Mutex::new(Vec::new()));
        let forwarder = Forwarder::start(
            Box::new(Gate {
                open: gate,
                got: Arc::clone(&got),
            }),
            1,
        )
        .unwrap();
        // The thread takes the first batch and waits at the gate; the second fills the queue.
        forwarder.forward(vec![aggregate("a")]).unwrap();
        forwarder.forward(vec![aggregate("b")]).unwrap();
        let (done, third_done) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                forwarder
                    .forward(vec![aggregate("c"), aggregate("bad")])
                    .unwrap();
                done.send(()).unwrap();
            });
            // The third waits for room: nothing has been delivered, so it cannot be done.
            assert!(third_done.try_recv().is_err());
            assert!(got.lock().unwrap().is_empty());
            for _ in 0..3 {
                open.send(()).unwrap();
            }
            third_done.recv().unwrap();
        });
        let counts = forwarder.finish();
        assert_eq!((counts.sent, counts.failed, counts.queued), (3, 1, 0));
        assert_eq!(
            *got.lock().unwrap(),
            vec![aggregate("a"), aggregate("b"), aggregate("c")]
        );
    }

    #[test]
    fn the_aggregate_id_is_read_from_the_json() {
        assert_eq!(aggregate_id(&aggregate("AAPL:1")), "AAPL:1");
        assert_eq!(aggregate_id("not json"), "?");
    }
}
