//! Timestamps: always UTC, always written with millisecond precision so that the stored
//! strings sort in time order and the API emits one fixed format.

use chrono::{DateTime, SecondsFormat, Utc};

pub type Timestamp = DateTime<Utc>;

pub fn format_timestamp(at: &Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Lenient on read: any RFC 3339 offset and 0–9 fractional digits are accepted and normalised to UTC.
pub fn parse_timestamp(raw: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// Serde adapter for `Timestamp` fields.
pub mod timestamp {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{format_timestamp, parse_timestamp, Timestamp};

    pub fn serialize<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_timestamp(at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let raw = String::deserialize(deserializer)?;
        parse_timestamp(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {raw:?}")))
    }

    /// Serde adapter for `Option<Timestamp>` fields (null or absent means none).
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        use super::super::{format_timestamp, parse_timestamp, Timestamp};

        pub fn serialize<S: Serializer>(
            at: &Option<Timestamp>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => serializer.serialize_str(&format_timestamp(at)),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Timestamp>, D::Error> {
            match Option::<String>::deserialize(deserializer)? {
                None => Ok(None),
                Some(raw) => parse_timestamp(&raw)
                    .map(Some)
                    .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {raw:?}"))),
            }
        }
    }
}

/// The time source; tests and the model check replace it to expire tokens at will.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_offsets_and_precision() {
        let at = parse_timestamp("2026-01-15T10:30:00.123456789+01:00").unwrap();
        assert_eq!(format_timestamp(&at), "2026-01-15T09:30:00.123Z");
        let at = parse_timestamp("2026-01-15T09:30:00Z").unwrap();
        assert_eq!(format_timestamp(&at), "2026-01-15T09:30:00.000Z");
    }

    #[test]
    fn rejects_the_sample_pages_rendering_slip() {
        assert!(parse_timestamp("2026-02-10T12: 00:00Z").is_none());
    }
}
