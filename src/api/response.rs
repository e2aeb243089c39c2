//! Response bodies: the paginated envelope with its items, and the error envelope.

use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::Value;

use crate::domain::{
    timestamp, EnrollmentToken, ObjectId, PageMeta, Timestamp, TokenState, TokenSummary, WinPolicy,
};
use crate::error::Error;
use crate::store::ListedPage;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserView<'a> {
    id: &'a ObjectId,
    /// The user's current email; null when the user no longer exists.
    email: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentView<'a> {
    win_policy_id: &'a ObjectId,
    /// The policy as it is now; null when it no longer exists.
    win_policy: Option<&'a WinPolicy>,
    priority: u32,
}

/// A token as the API lists it: every field present, absent values as null.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenView<'a> {
    id: &'a ObjectId,
    organization_id: &'a ObjectId,
    win_enterprise_id: Option<&'a ObjectId>,
    win_device_id: Option<&'a ObjectId>,
    mdm_user: Option<UserView<'a>>,
    display_name: Option<&'a str>,
    tags: &'a [String],
    state: TokenState,
    config: &'a Value,
    #[serde(rename = "type")]
    token_type: Option<&'a str>,
    sub_type: Option<&'a str>,
    #[serde(with = "timestamp")]
    updated_at: Timestamp,
    #[serde(with = "timestamp")]
    created_at: Timestamp,
    #[serde(with = "timestamp::option")]
    expire_at: Option<Timestamp>,
    enrollment_link: Option<&'a str>,
    enroll_code: Option<&'a str>,
    win_policy_id: Option<&'a ObjectId>,
    win_policy_assignments: Vec<AssignmentView<'a>>,
    summary: TokenSummary,
    send_email: bool,
    email_text: Option<&'a str>,
    segment_id: Option<u64>,
}

fn token_view<'a>(
    token: &'a EnrollmentToken,
    listed: &'a ListedPage,
    now: Timestamp,
) -> TokenView<'a> {
    TokenView {
        id: &token.id,
        organization_id: &token.organization_id,
        win_enterprise_id: token.win_enterprise_id.as_ref(),
        win_device_id: token.win_device_id.as_ref(),
        mdm_user: token.mdm_user_id.as_ref().map(|id| UserView {
            id,
            email: listed.users.get(id).map(|user| user.email.as_str()),
        }),
        display_name: token.display_name.as_deref(),
        tags: &token.tags,
        state: token.shown_state(now),
        config: &token.config,
        token_type: token.token_type.as_deref(),
        sub_type: token.sub_type.as_deref(),
        updated_at: token.updated_at,
        created_at: token.created_at,
        expire_at: token.expire_at,
        enrollment_link: token.enrollment_link.as_deref(),
        enroll_code: token.enroll_code.as_deref(),
        win_policy_id: token.win_policy_id.as_ref(),
        win_policy_assignments: token
            .win_policy_assignments
            .iter()
            .map(|assignment| AssignmentView {
                win_policy_id: &assignment.win_policy_id,
                win_policy: listed.policies.get(&assignment.win_policy_id),
                priority: assignment.priority,
            })
            .collect(),
        summary: token.summary(),
        send_email: token.send_email,
        email_text: token.email_text.as_deref(),
        segment_id: token.segment_id,
    }
}

/// Cursors to the neighbouring pages; null where there is no such page (or nothing to anchor on).
#[derive(Serialize)]
pub struct Cursors {
    #[serde(rename = "nextCursor")]
    pub next: Option<String>,
    #[serde(rename = "prevCursor")]
    pub prev: Option<String>,
}

#[derive(Serialize)]
struct PageData<'a> {
    items: Vec<TokenView<'a>>,
    #[serde(flatten)]
    meta: &'a PageMeta,
    lean: bool,
    #[serde(flatten)]
    cursors: Cursors,
}

#[derive(Serialize)]
pub struct PageBody<'a> {
    status: bool,
    data: PageData<'a>,
}

pub fn page_body<'a>(
    listed: &'a ListedPage,
    meta: &'a PageMeta,
    cursors: Cursors,
    now: Timestamp,
) -> PageBody<'a> {
    let items = listed
        .tokens
        .iter()
        .map(|token| token_view(token, listed, now))
        .collect();
    PageBody {
        status: true,
        data: PageData {
            items,
            meta,
            lean: true,
            cursors,
        },
    }
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response bodies always serialise");
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDetail<'a> {
    code: u32,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: bool,
    error: ErrorDetail<'a>,
}

/// The error envelope; server errors carry the request id that the log line also carries.
pub fn error_response(error: &Error, request_id: &str) -> Response<Body> {
    let body = ErrorBody {
        status: false,
        error: ErrorDetail {
            code: error.code(),
            message: error.to_string(),
            request_id: error.status().is_server_error().then_some(request_id),
        },
    };
    let mut response = json_response(error.status(), &body);
    let headers = response.headers_mut();
    match error {
        Error::NoAuthToken | Error::InvalidToken(_) => {
            headers.insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        Error::MethodNotAllowed => {
            headers.insert("allow", HeaderValue::from_static("GET"));
        }
        Error::Unavailable(_) => {
            headers.insert("retry-after", HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}
