use serde::Serialize;

use super::ObjectId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
    ExpireAt,
    DisplayName,
    State,
}

impl SortField {
    pub const ALL: [SortField; 5] = [
        Self::CreatedAt,
        Self::UpdatedAt,
        Self::ExpireAt,
        Self::DisplayName,
        Self::State,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::CreatedAt => "createdAt",
            Self::UpdatedAt => "updatedAt",
            Self::ExpireAt => "expireAt",
            Self::DisplayName => "displayName",
            Self::State => "state",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|field| field.name() == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortDirection {
    Ascending,
    Descending,
}

/// Order of a listing. Ties are broken by token id in the same direction, so every order is total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sort {
    pub field: SortField,
    pub direction: SortDirection,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            field: SortField::CreatedAt,
            direction: SortDirection::Descending,
        }
    }
}

/// Filters combine with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    pub user: Option<ObjectId>,
    pub policy: Option<ObjectId>,
}

/// A token's place in a listing's order: its id and its sort key there (opaque outside the store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub token: ObjectId,
    pub sort_key: String,
}

/// Where a page reached by cursor starts: just after `from` in the listing's order, or, going back,
/// just before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub from: Position,
    pub backward: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based.
    pub page: u64,
    /// 0 asks for the totals only.
    pub limit: u64,
    pub sort: Sort,
    pub filter: Filter,
    pub show_deleted: bool,
    /// Set when a cursor names the page: it is read from there instead of by skipping.
    pub anchor: Option<Anchor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            limit: 10,
            sort: Sort::default(),
            filter: Filter::default(),
            show_deleted: false,
            anchor: None,
        }
    }
}

impl PageRequest {
    /// How many tokens come before this page in the listing's order.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.limit)
    }
}

/// The pagination fields of the envelope, with mongoose-paginate-v2 semantics.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    pub total_docs: u64,
    pub limit: u64,
    pub has_prev_page: bool,
    pub has_next_page: bool,
    pub page: u64,
    pub total_pages: u64,
    pub prev_page: Option<u64>,
    pub next_page: Option<u64>,
}

impl PageMeta {
    pub fn new(total_docs: u64, request: &PageRequest) -> Self {
        if request.limit == 0 {
            return Self {
                total_docs,
                limit: 0,
                has_prev_page: false,
                has_next_page: false,
                page: 1,
                total_pages: 1,
                prev_page: None,
                next_page: None,
            };
        }
        let total_pages = total_docs.div_ceil(request.limit).max(1);
        let page = request.page;
        let has_prev_page = page > 1;
        let has_next_page = page < total_pages;
        Self {
            total_docs,
            limit: request.limit,
            has_prev_page,
            has_next_page,
            page,
            total_pages,
            prev_page: has_prev_page.then(|| page - 1),
            next_page: has_next_page.then(|| page + 1),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub meta: PageMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(total: u64, page: u64, limit: u64) -> PageMeta {
        PageMeta::new(
            total,
            &PageRequest {
                page,
                limit,
                ..PageRequest::default()
            },
        )
    }

    #[test]
    fn first_middle_last_and_past_the_end() {
        let first = meta(25, 1, 10);
        assert_eq!(
            (first.total_pages, first.prev_page, first.next_page),
            (3, None, Some(2))
        );
        assert!(!first.has_prev_page && first.has_next_page);
        let middle = meta(25, 2, 10);
        assert_eq!((middle.prev_page, middle.next_page), (Some(1), Some(3)));
        let last = meta(25, 3, 10);
        assert_eq!((last.prev_page, last.next_page), (Some(2), None));
        assert!(last.has_prev_page && !last.has_next_page);
        let past = meta(25, 9, 10);
        assert_eq!(
            (past.page, past.prev_page, past.next_page),
            (9, Some(8), None)
        );
        assert!(past.has_prev_page && !past.has_next_page);
    }

    #[test]
    fn empty_listing_has_one_page() {
        let empty = meta(0, 1, 10);
        assert_eq!((empty.total_pages, empty.has_next_page), (1, false));
    }

    #[test]
    fn limit_zero_reports_totals_only() {
        let totals = meta(42, 7, 0);
        assert_eq!((totals.page, totals.total_pages, totals.limit), (1, 1, 0));
        assert_eq!((totals.prev_page, totals.next_page), (None, None));
        assert_eq!(totals.total_docs, 42);
    }

    #[test]
    fn offset_saturates_instead_of_overflowing() {
        let request = PageRequest {
            page: u64::MAX,
            limit: 100,
            ..PageRequest::default()
        };
        assert_eq!(request.offset(), u64::MAX);
    }
}
