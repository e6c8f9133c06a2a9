//! `/dev/mailbox`: the mail of tenants whose `email.transport` is `mailbox` (the demo's), codes
//! included, so e-mail verification works with no SMTP server. Absent everywhere else.

use axum::http::StatusCode;
use axum::response::Response;

use super::State;
use crate::mail::StoredMail;

pub async fn mailbox(state: State) -> Response {
    let boxes: Vec<_> = state
        .tenants
        .iter()
        .filter_map(|t| t.mailer.mailbox())
        .collect();
    if boxes.is_empty() {
        return state
            .pages
            .error(StatusCode::NOT_FOUND, "There is no page at this address.");
    }
    let mut messages: Vec<StoredMail> = boxes.iter().flat_map(|b| b.messages()).collect();
    messages.sort_by(|a, b| b.at.cmp(&a.at));
    state.pages.render(
        StatusCode::OK,
        "mailbox.html",
        minijinja::context! { title => "Development mailbox", wide => true, messages },
    )
}
