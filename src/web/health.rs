//! `GET /health/alive` and `GET /health/ready`, for load balancers and orchestrators. Both are
//! unauthenticated, cheap, carry nothing secret (the reason names a condition, never a host,
//! URL or error text), answer over plain HTTP even with `debug` off (probes rarely speak TLS to
//! the instance), and stay out of the request log.

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, Response, handler};
use serde_json::json;

use super::state::State;

/// How long readiness waits for the database.
const CHECK_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The paths the middleware lets through without the HTTPS rule or a log line.
pub const PATHS: [&str; 2] = ["/health/alive", "/health/ready"];

/// `GET /health/alive`: the process answers.
#[handler]
pub async fn alive() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// `GET /health/ready`: the database answers and carries every migration of this build; else
/// `503` with the reason and `Retry-After`. `change_feed` says whether the caches are on
/// (`live`) or every answer is read from the database (`down`, still ready: slower, never
/// stale).
#[handler]
pub async fn ready(Data(state): Data<&State>) -> Response {
    // Bounded: a probe must answer even while the pool waits for a database that is gone.
    let checked = tokio::time::timeout(CHECK_LIMIT, state.store.pending_migrations()).await;
    let feed = if state.caches.feed().is_live() {
        "live"
    } else {
        "down"
    };
    let reason = match checked {
        Ok(Ok(0)) => return Json(json!({"status": "ok", "change_feed": feed})).into_response(),
        Ok(Ok(n)) => format!("{n} database migrations are not applied"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            "the database does not answer".to_owned()
        }
        Err(_) => "the database does not answer in time".to_owned(),
    };
    let mut resp = Json(json!({"status": "unavailable", "reason": reason})).into_response();
    resp.set_status(StatusCode::SERVICE_UNAVAILABLE);
    resp.headers_mut().insert(
        poem::http::header::RETRY_AFTER,
        poem::http::HeaderValue::from_static("5"),
    );
    resp
}
