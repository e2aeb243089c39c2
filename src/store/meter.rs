use std::sync::Mutex;

use aws_sdk_dynamodb::types::ConsumedCapacity;

/// What one request cost in DynamoDB reads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReadCost {
    pub calls: u32,
    pub capacity_units: f64,
    pub items_read: u64,
}

/// Collects the cost of the calls made for one request; shared by the calls made in parallel.
#[derive(Debug, Default)]
pub struct ReadMeter(Mutex<ReadCost>);

impl ReadMeter {
    pub(super) fn record<'a>(
        &self,
        items: usize,
        capacity: impl IntoIterator<Item = &'a ConsumedCapacity>,
    ) {
        let units: f64 = capacity
            .into_iter()
            .filter_map(|consumed| consumed.capacity_units())
            .sum();
        let mut cost = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cost.calls += 1;
        cost.capacity_units += units;
        cost.items_read += items as u64;
    }

    pub fn total(&self) -> ReadCost {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
