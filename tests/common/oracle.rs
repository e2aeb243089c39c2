//! The reference semantics of a listing, computed in memory from the tokens that were written.

use std::cmp::Ordering;

use enrollment_tokens::domain::{
    EnrollmentToken, Filter, ObjectId, PageRequest, Sort, SortDirection, SortField, StoredState,
    Timestamp,
};

/// The ids of the requested page, and the total, as the contract defines them.
pub fn expected(
    tokens: &[EnrollmentToken],
    organization: &ObjectId,
    request: &PageRequest,
    now: Timestamp,
) -> (Vec<ObjectId>, u64) {
    let mut listed: Vec<&EnrollmentToken> = tokens
        .iter()
        .filter(|t| &t.organization_id == organization)
        .filter(|t| request.show_deleted || t.state != StoredState::Deleted)
        .filter(|t| request.filter.user.is_none() || t.mdm_user_id == request.filter.user)
        .filter(|t| {
            request
                .filter
                .policy
                .as_ref()
                .is_none_or(|policy| t.policy_ids().contains(policy))
        })
        .collect();
    listed.sort_by(|a, b| {
        let order = compare(a, b, request.sort.field, now).then_with(|| a.id.cmp(&b.id));
        match request.sort.direction {
            SortDirection::Ascending => order,
            SortDirection::Descending => order.reverse(),
        }
    });
    let total = listed.len() as u64;
    let page = if request.limit == 0 {
        vec![]
    } else {
        listed
            .into_iter()
            .skip(request.offset().min(total) as usize)
            .take(request.limit as usize)
            .map(|t| t.id.clone())
            .collect()
    };
    (page, total)
}

fn compare(a: &EnrollmentToken, b: &EnrollmentToken, field: SortField, now: Timestamp) -> Ordering {
    match field {
        SortField::CreatedAt => a.created_at.cmp(&b.created_at),
        SortField::UpdatedAt => a.updated_at.cmp(&b.updated_at),
        // None (never expires) sorts first, as null does in MongoDB.
        SortField::ExpireAt => a.expire_at.cmp(&b.expire_at),
        SortField::DisplayName => a.display_name.cmp(&b.display_name),
        // PENDING and EXPIRED tokens follow their expiry inside their state, never-expiring last.
        SortField::State => {
            a.shown_state(now)
                .cmp(&b.shown_state(now))
                .then_with(|| match (a.state, b.state) {
                    (StoredState::Pending, StoredState::Pending) => {
                        let never_last = |t: &EnrollmentToken| (t.expire_at.is_none(), t.expire_at);
                        never_last(a).cmp(&never_last(b))
                    }
                    _ => Ordering::Equal,
                })
        }
    }
}

/// First pages of every filter × visibility × sort field × direction, `limit` a page.
pub fn every_listing(filters: &[Filter], limit: u64) -> Vec<PageRequest> {
    let mut requests = Vec::new();
    for filter in filters {
        for show_deleted in [false, true] {
            for field in SortField::ALL {
                for direction in [SortDirection::Ascending, SortDirection::Descending] {
                    requests.push(PageRequest {
                        page: 1,
                        limit,
                        sort: Sort { field, direction },
                        filter: filter.clone(),
                        show_deleted,
                        anchor: None,
                    });
                }
            }
        }
    }
    requests
}
