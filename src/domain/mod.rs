//! Domain types of the service: free of AWS and HTTP types.

mod ids;
mod page;
mod policy;
mod time;
mod token;
mod user;

pub use ids::{InvalidObjectId, ObjectId};
pub use page::{
    Anchor, Filter, Page, PageMeta, PageRequest, Position, Sort, SortDirection, SortField,
};
pub use policy::WinPolicy;
pub use time::{format_timestamp, timestamp, Clock, SystemClock, Timestamp};
pub use token::{EnrollmentToken, PolicyAssignment, StoredState, TokenState, TokenSummary};
pub use user::{MdmUser, Organization};

/// The default of the free-form `config` objects.
pub(crate) fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Lenient reading of numbers that other writers have stored as numeric strings ("1").
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u64),
        Text(String),
    }

    fn to_u64<E: serde::de::Error>(value: NumberOrText) -> Result<u64, E> {
        match value {
            NumberOrText::Number(n) => Ok(n),
            NumberOrText::Text(text) => text
                .trim()
                .parse()
                .map_err(|_| E::custom(format!("{text:?} is not a whole number"))),
        }
    }

    pub fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        to_u64(NumberOrText::deserialize(deserializer)?)
    }

    pub fn small_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        let n = number(deserializer)?;
        u32::try_from(n).map_err(|_| serde::de::Error::custom(format!("{n} is too large")))
    }

    pub fn optional_number<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        Option::<NumberOrText>::deserialize(deserializer)?
            .map(to_u64)
            .transpose()
    }
}
