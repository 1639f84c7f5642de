//! How far a consumer is behind, per partition it owns.

use std::time::Duration;

use rdkafka::{Offset, consumer::Consumer as _};

use crate::{KafkaConsumer, unavailable};
use commerce_core::ports::EventError;

/// One owned partition's lag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Messages on the partition not yet acknowledged by this consumer.
    pub messages: i64,
}

impl KafkaConsumer {
    /// The lag of every partition this member owns: the partition's end minus the offset
    /// after the last acknowledged message (or, before any acknowledgement, the position
    /// reached). Asks the broker for each partition's end, waiting up to a second for
    /// each: call it from a blocking thread (`tokio::task::spawn_blocking`).
    pub fn lag(&self) -> Result<Vec<PartitionLag>, EventError> {
        let positions = self.consumer.position().map_err(|e| unavailable(&e))?;
        let acked = self.acked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut lags = vec![];
        for element in positions.elements() {
            let (topic, partition) = (element.topic().to_owned(), element.partition());
            let Ok((low, high)) = self.consumer.fetch_watermarks(&topic, partition, Duration::from_secs(1)) else {
                continue;
            };
            let done = match (acked.get(&(topic.clone(), partition)), element.offset()) {
                (Some(next), _) => *next,
                (None, Offset::Offset(position)) => position,
                // Nothing read yet: what the partition still holds is ahead.
                (None, _) => low,
            }
            .max(low);
            if high >= 0 {
                lags.push(PartitionLag { topic, partition, messages: (high - done).max(0) });
            }
        }
        Ok(lags)
    }
}
