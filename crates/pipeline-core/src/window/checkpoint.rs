//! What a partition commits with its Kafka offset, and reads back on a restart.

/// Where to resume a partition: committed as the Kafka offset plus its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The offset to commit: the first record a restart must read.
    pub offset: i64,
    /// The watermark to resume with at `offset`: the partition's when the checkpoint was
    /// taken, or, for session windows with a session open, the one before `offset`'s record.
    pub watermark_ms: Option<i64>,
    /// One past the last offset handled: records below it already had their outputs produced.
    pub high_water: i64,
}

impl Checkpoint {
    /// The commit metadata string, e.g. `v1;wm=1795271400000;hw=1042`.
    pub fn metadata(&self) -> String {
        match self.watermark_ms {
            Some(wm) => format!("v1;wm={wm};hw={}", self.high_water),
            None => format!("v1;wm=;hw={}", self.high_water),
        }
    }

    /// Reads back a checkpoint from a committed offset and its metadata.
    pub fn from_metadata(offset: i64, metadata: &str) -> Result<Checkpoint, String> {
        let bad =
            || format!("unrecognised checkpoint metadata `{metadata}`; expected v1;wm=…;hw=…");
        let rest = metadata.strip_prefix("v1;wm=").ok_or_else(bad)?;
        let (wm, hw) = rest.split_once(";hw=").ok_or_else(bad)?;
        let watermark_ms = if wm.is_empty() {
            None
        } else {
            Some(wm.parse().map_err(|_| bad())?)
        };
        let high_water: i64 = hw.parse().map_err(|_| bad())?;
        if high_water < offset {
            return Err(format!(
                "checkpoint high-water {high_water} is below its offset {offset}"
            ));
        }
        Ok(Checkpoint {
            offset,
            watermark_ms,
            high_water,
        })
    }
}
