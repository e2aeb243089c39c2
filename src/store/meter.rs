use std::sync::Mutex;
use std::time::Instant;

use aws_sdk_dynamodb::types::ConsumedCapacity;

/// What one request cost in DynamoDB reads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReadCost {
    pub calls: u32,
    /// Calls that had to wait for earlier ones: calls that overlap in time count once.
    pub round_trips: u32,
    pub capacity_units: f64,
    pub items_read: u64,
}

#[derive(Debug, Default)]
struct Recorded {
    cost: ReadCost,
    /// When each call was sent and answered.
    spans: Vec<(Instant, Instant)>,
}

/// Collects the cost of the calls made for one request; shared by the calls made in parallel.
#[derive(Debug, Default)]
pub struct ReadMeter(Mutex<Recorded>);

impl ReadMeter {
    pub(super) fn record<'a>(
        &self,
        sent: Instant,
        items: usize,
        capacity: impl IntoIterator<Item = &'a ConsumedCapacity>,
    ) {
        let units: f64 = capacity
            .into_iter()
            .filter_map(|consumed| consumed.capacity_units())
            .sum();
        let mut recorded = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        recorded.cost.calls += 1;
        recorded.cost.capacity_units += units;
        recorded.cost.items_read += items as u64;
        recorded.spans.push((sent, Instant::now()));
    }

    pub fn total(&self) -> ReadCost {
        let recorded = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut spans = recorded.spans.clone();
        spans.sort();
        let mut round_trips = 0;
        let mut round_end: Option<Instant> = None;
        for (sent, answered) in spans {
            match round_end {
                Some(end) if sent < end => round_end = Some(end.max(answered)),
                _ => {
                    round_trips += 1;
                    round_end = Some(answered);
                }
            }
        }
        ReadCost {
            round_trips,
            ..recorded.cost
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn overlapping_calls_are_one_round_trip_and_a_later_call_another() {
        let meter = ReadMeter::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut recorded = meter.0.lock().unwrap();
        recorded.spans = vec![
            (at(0), at(5)),
            (at(1), at(9)),
            (at(10), at(12)),
            (at(11), at(13)),
        ];
        drop(recorded);
        assert_eq!(meter.total().round_trips, 2);
    }
}
