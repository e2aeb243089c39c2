//! Domain types of the service: free of AWS and HTTP types.

mod ids;
mod page;
mod policy;
mod time;
mod token;
mod user;

pub use ids::{InvalidObjectId, ObjectId};
pub use page::{Filter, Page, PageMeta, PageRequest, Sort, SortDirection, SortField};
pub use policy::WinPolicy;
pub use time::{format_timestamp, timestamp, Clock, SystemClock, Timestamp};
pub use token::{EnrollmentToken, PolicyAssignment, StoredState, TokenState, TokenSummary};
pub use user::{MdmUser, Organization};

/// The default of the free-form `config` objects.
pub(crate) fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}
