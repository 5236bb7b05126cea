//! CloudWatch metrics published with PutMetricData (the checker's; the processor writes
//! Embedded Metric Format lines instead).

use std::future::Future;
use std::time::SystemTime;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;

use crate::error::AwsError;

/// PutMetricData takes at most this many data points per call.
pub const PUT_METRIC_DATA_LIMIT: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
}

/// One data point.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    pub value: f64,
    pub unit: Unit,
    pub timestamp: SystemTime,
}

pub trait MetricsSink: Send + Sync {
    /// Publishes `data` under `namespace`, in as many calls as the API's limits need.
    fn put(
        &self,
        namespace: &str,
        data: &[Datum],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// The AWS SDK's CloudWatch client.
#[derive(Debug, Clone)]
pub struct CloudWatchMetrics {
    client: Client,
}

impl CloudWatchMetrics {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }
}

fn to_sdk(datum: &Datum) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(&datum.name)
        .set_dimensions(Some(
            datum
                .dimensions
                .iter()
                .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                .collect(),
        ))
        .value(datum.value)
        .unit(match datum.unit {
            Unit::Count => StandardUnit::Count,
            Unit::Seconds => StandardUnit::Seconds,
        })
        .timestamp(DateTime::from(datum.timestamp))
        .build()
}

impl MetricsSink for CloudWatchMetrics {
    async fn put(&self, namespace: &str, data: &[Datum]) -> Result<(), AwsError> {
        for chunk in data.chunks(PUT_METRIC_DATA_LIMIT) {
            self.client
                .put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(chunk.iter().map(to_sdk).collect()))
                .send()
                .await
                .map_err(|e| crate::error::from_sdk("PutMetricData", e))?;
        }
        Ok(())
    }
}
