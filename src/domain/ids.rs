use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 24-hex-digit identifier (MongoDB ObjectId shape), normalised to lower case.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(String);

#[derive(Debug, thiserror::Error)]
#[error("expected 24 hexadecimal characters")]
pub struct InvalidObjectId;

impl ObjectId {
    pub fn parse(value: &str) -> Result<Self, InvalidObjectId> {
        if value.len() == 24 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(value.to_ascii_lowercase()))
        } else {
            Err(InvalidObjectId)
        }
    }

    /// Builds an id from its 12 bytes: 4 bytes of seconds since the epoch, then 8 caller-chosen bytes.
    pub fn from_parts(seconds: u32, rest: u64) -> Self {
        Self(format!("{seconds:08x}{rest:016x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.0)
    }
}

impl Serialize for ObjectId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        ObjectId::parse(&raw).map_err(|_| serde::de::Error::custom(format!("invalid id {raw:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_any_case_and_normalises() {
        let id = ObjectId::parse("698EFA6ED851667D9C0AEC88").unwrap();
        assert_eq!(id.as_str(), "698efa6ed851667d9c0aec88");
    }

    #[test]
    fn rejects_wrong_length_or_digits() {
        assert!(ObjectId::parse("698efa6ed851667d9c0aec8").is_err());
        assert!(ObjectId::parse("698efa6ed851667d9c0aec8g").is_err());
        assert!(ObjectId::parse("").is_err());
    }
}
