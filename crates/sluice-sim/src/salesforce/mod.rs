//! The Salesforce simulator: one org in memory (optionally saved to a state
//! file), served over HTTP(S) with Salesforce's wire formats.

pub mod admin;
pub mod auth;
pub mod bulk;
pub mod change_events;
pub mod error;
pub mod ids;
pub mod org;
pub mod rest;
pub mod schema;
pub mod seed;
pub mod soql;
pub mod state;
pub mod streaming;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use self::error::SfError;
use self::org::Org;
use self::state::{SimConfig, SimState};

/// Oldest and newest REST API versions the simulator answers.
pub const API_VERSIONS: std::ops::RangeInclusive<u32> = 50..=62;

/// A running simulator's shared handle; cheap to clone.
#[derive(Clone)]
pub struct SalesforceSim {
    state: Arc<Mutex<SimState>>,
    base_url: Arc<RwLock<String>>,
    state_file: Option<Arc<PathBuf>>,
}

impl SalesforceSim {
    /// A simulator around `org`.
    pub fn new(org: Org, config: SimConfig, state_file: Option<PathBuf>) -> Self {
        Self {
            state: Arc::new(Mutex::new(SimState::new(org, config))),
            base_url: Arc::new(RwLock::new("https://127.0.0.1".to_string())),
            state_file: state_file.map(Arc::new),
        }
    }

    /// Loads the org from `path` when it exists, otherwise starts from `fallback`.
    pub fn load_or(path: Option<PathBuf>, fallback: impl FnOnce() -> Org, config: SimConfig) -> std::io::Result<Self> {
        let loaded = path.as_deref().map(crate::state_file::load::<Org>).transpose()?.flatten();
        let org = match loaded {
            Some(mut org) => {
                org.reindex();
                org
            }
            None => fallback(),
        };
        Ok(Self::new(org, config, path))
    }

    /// Locks the state. A panic while holding the lock cannot leave the
    /// org half-written (writes replace whole rows), so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The URL clients reach this simulator at (`instance_url`).
    pub fn base_url(&self) -> String {
        self.base_url.read().map(|u| u.clone()).unwrap_or_default()
    }

    /// Sets the URL clients reach this simulator at.
    pub fn set_base_url(&self, url: String) {
        if let Ok(mut current) = self.base_url.write() {
            *current = url;
        }
    }

    /// Saves the org to the state file (atomically) if it changed.
    pub fn save_if_dirty(&self) -> std::io::Result<bool> {
        let Some(path) = &self.state_file else { return Ok(false) };
        let mut state = self.lock();
        if !state.dirty {
            return Ok(false);
        }
        crate::state_file::save(path, &state.org)?;
        state.dirty = false;
        Ok(true)
    }

    /// The HTTP application.
    pub fn router(&self) -> Router {
        let data = Router::new()
            .route("/services/data/{version}/limits", get(rest::limits))
            .route("/services/data/{version}/sobjects", get(rest::global_describe))
            .route("/services/data/{version}/sobjects/{object}", get(rest::object_info).post(rest::create_record))
            .route("/services/data/{version}/sobjects/{object}/describe", get(rest::describe_object))
            .route(
                "/services/data/{version}/sobjects/{object}/{id}",
                get(rest::get_record).patch(rest::update_record).delete(rest::delete_record),
            )
            .route(
                "/services/data/{version}/sobjects/{object}/{field}/{value}",
                get(rest::get_by_external_id).patch(rest::upsert_record),
            )
            .route("/services/data/{version}/query", get(rest::query))
            .route("/services/data/{version}/query/{locator}", get(rest::query_more))
            .route("/services/data/{version}/queryAll", get(rest::query_all))
            .route("/services/data/{version}/queryAll/{locator}", get(rest::query_more))
            .route(
                "/services/data/{version}/composite/sobjects",
                post(rest::collection_create).patch(rest::collection_update).delete(rest::collection_delete),
            )
            .route(
                "/services/data/{version}/composite/sobjects/{object}",
                get(rest::collection_retrieve).post(rest::collection_retrieve_post),
            )
            .route(
                "/services/data/{version}/composite/sobjects/{object}/{field}",
                axum::routing::patch(rest::collection_upsert),
            )
            .route("/services/data/{version}/jobs/ingest", post(bulk::create_ingest_job).get(bulk::list_ingest_jobs))
            .route(
                "/services/data/{version}/jobs/ingest/{id}",
                get(bulk::get_ingest_job).patch(bulk::patch_ingest_job).delete(bulk::delete_job),
            )
            .route(
                "/services/data/{version}/jobs/ingest/{id}/batches",
                // Salesforce takes up to 150 MB of CSV per ingest job.
                axum::routing::put(bulk::upload_batch)
                    .layer(axum::extract::DefaultBodyLimit::max(bulk::MAX_UPLOAD_BYTES)),
            )
            .route("/services/data/{version}/jobs/ingest/{id}/successfulResults", get(bulk::successful_results))
            .route("/services/data/{version}/jobs/ingest/{id}/failedResults", get(bulk::failed_results))
            .route("/services/data/{version}/jobs/ingest/{id}/unprocessedrecords", get(bulk::unprocessed_records))
            .route("/services/data/{version}/jobs/query", post(bulk::create_query_job).get(bulk::list_query_jobs))
            .route(
                "/services/data/{version}/jobs/query/{id}",
                get(bulk::get_query_job).patch(bulk::patch_query_job).delete(bulk::delete_job),
            )
            .route("/services/data/{version}/jobs/query/{id}/results", get(bulk::query_results))
            .route("/services/data/{version}", get(rest::resources))
            .layer(axum::middleware::from_fn_with_state(self.clone(), api_guard));
        let app = Router::new()
            .route("/services/data", get(rest::versions))
            .route("/services/oauth2/token", post(auth::token))
            .route("/services/oauth2/authorize", get(auth::authorize))
            .route("/services/oauth2/userinfo", get(auth::userinfo))
            .route("/services/Soap/u/{version}", post(auth::soap_login))
            .route("/cometd/{version}", post(streaming::cometd))
            .merge(data)
            .nest("/__sim", admin::routes())
            .fallback(|| async { SfError::not_found() })
            .with_state(self.clone());
        // Salesforce accepts a trailing slash on every resource (simple-salesforce sends one).
        Router::new().fallback(move |request: Request| {
            let app = app.clone();
            async move {
                use tower::ServiceExt;
                let request = trim_trailing_slash(request);
                match app.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        })
    }
}

fn trim_trailing_slash(mut request: Request) -> Request {
    let uri = request.uri();
    let path = uri.path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let rebuilt = match uri.query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_string(),
        };
        if let Ok(new_uri) = rebuilt.parse() {
            *request.uri_mut() = new_uri;
        }
    }
    request
}

/// Runs before every REST data call: API version check, bearer session,
/// daily limit, fault injection, and the `Sforce-Limit-Info` header.
async fn api_guard(State(sim): State<SalesforceSim>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if let Some(version) = path.strip_prefix("/services/data/v").and_then(|p| p.split('/').next()) {
        let major = version.strip_suffix(".0").and_then(|m| m.parse::<u32>().ok());
        if !major.is_some_and(|m| API_VERSIONS.contains(&m)) {
            return SfError::not_found().into_response();
        }
    } else {
        return SfError::not_found().into_response();
    }
    if let Err(error) = auth::bearer_session(&sim, request.headers()) {
        return error.into_response();
    }
    let (latency, failure, usage) = {
        let mut state = sim.lock();
        state.api_calls += 1;
        let usage = format!("api-usage={}/{}", state.api_calls, state.config.daily_api_requests);
        if state.api_calls > state.config.daily_api_requests {
            (0, Some(limit_exceeded()), usage)
        } else {
            let mut latency = 0;
            let mut failure = None;
            for rule in state.faults.iter_mut().filter(|r| path.contains(&r.path_contains)) {
                rule.seen += 1;
                latency += rule.latency_ms;
                if rule.limit_after_calls.is_some_and(|n| rule.seen > n) {
                    failure = Some(limit_exceeded());
                } else if rule.fail_first.is_some_and(|n| rule.seen <= n)
                    || (rule.error_rate > 0.0 && rand::random::<f64>() < rule.error_rate)
                {
                    let status = StatusCode::from_u16(rule.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    failure = Some(SfError {
                        status,
                        code: "SERVER_UNAVAILABLE",
                        message: "injected failure: the server is temporarily unavailable".into(),
                        fields: Vec::new(),
                    });
                }
            }
            (latency, failure, usage)
        }
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let mut response = match failure {
        Some(error) => error.into_response(),
        None => next.run(request).await,
    };
    if let Ok(value) = HeaderValue::from_str(&usage) {
        response.headers_mut().insert("Sforce-Limit-Info", value);
    }
    response
}

fn limit_exceeded() -> SfError {
    SfError {
        status: StatusCode::FORBIDDEN,
        code: "REQUEST_LIMIT_EXCEEDED",
        message: "TotalRequests Limit exceeded.".into(),
        fields: Vec::new(),
    }
}
