//! `GET /metrics`: the Prometheus text format of what [`crate::core::metrics`] records. Off by
//! default. `metrics_addr` serves it on an address of its own (for a network only the scraper
//! reaches); `metrics_token` serves it on the main address to `Authorization: Bearer <token>`.
//! Either turns recording on.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, handler};
use subtle::ConstantTimeEq;

use super::methods::get;
use super::state::State;
use crate::core::metrics;
use crate::settings::Settings;

/// The process's recorder: metrics are process-wide, like the `metrics` facade they feed.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often recorded histogram samples are folded into their buckets between scrapes, so
/// memory stays bounded however rarely Prometheus comes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Marks the router of `metrics_addr`, where no token is asked.
#[derive(Clone, Copy)]
struct OwnAddress;

/// Installs the recorder when `settings` turn metrics on (once per process; later calls keep
/// the first).
pub fn install(settings: &Settings) {
    if settings.metrics_addr.is_none() && settings.metrics_token.is_none() {
        return;
    }
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = match builder.set_buckets(&metrics::LATENCY_BUCKETS) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: default histogram buckets");
                PrometheusBuilder::new()
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        match ::metrics::set_global_recorder(recorder) {
            Ok(()) => metrics::enable(),
            Err(e) => tracing::warn!(error = %e, "metrics: another recorder is installed"),
        }
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("scopegate-metrics".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "metrics: no upkeep thread; samples fold in at each scrape");
        }
        handle
    });
}

/// The router `serve` puts on `metrics_addr`: `/metrics` alone, without a token.
pub fn own_routes(state: State) -> impl poem::Endpoint {
    Route::new()
        .at("/metrics", get(scrape))
        .data(state)
        .data(OwnAddress)
}

/// `GET /metrics`. On the main address: 404 unless `metrics_token` is set, then 401 without
/// that bearer token. On `metrics_addr`: served to anyone who reaches it.
#[handler]
pub async fn scrape(req: &Request, Data(state): Data<&State>) -> Response {
    let Some(handle) = HANDLE.get() else {
        return StatusCode::NOT_FOUND.into();
    };
    if req.data::<OwnAddress>().is_none() {
        let Some(expected) = &state.settings.metrics_token else {
            return StatusCode::NOT_FOUND.into();
        };
        if !bearer_matches(req, expected) {
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header(
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="scopegate-metrics""#,
                )
                .finish();
        }
    }
    let feed = state.caches.feed();
    metrics::feed(feed.is_live(), feed.silent_for().as_secs_f64());
    // The dashboard's live counts, from the same query; a scrape still answers without them.
    match state.store.live_counts(crate::core::now()).await {
        Ok(counts) => metrics::live(counts),
        Err(e) => tracing::warn!(error = %e, "metrics: live counts unavailable"),
    }
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}

/// True when the request's one `Authorization` header is `Bearer <expected>` (compared in
/// constant time).
fn bearer_matches(req: &Request, expected: &str) -> bool {
    let mut values = req.headers().get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let value = value.to_str().unwrap_or("");
    let Some((scheme, token)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && bool::from(token.trim().as_bytes().ct_eq(expected.as_bytes()))
}
