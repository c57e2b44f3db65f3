//! The Marketo simulator: one instance's lead database in memory
//! (optionally saved to a state file), served over HTTP(S) with Marketo's
//! REST and bulk wire formats: identity, leads, activities, bulk lead
//! export, rate limits and quotas.

pub mod activity;
pub mod admin;
pub mod auth;
pub mod bulk;
pub mod db;
pub mod error;
pub mod export;
pub mod paging;
pub mod params;
pub mod rest;
pub mod schema;
pub mod seed;
pub mod state;
pub mod time_format;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use self::db::LeadDatabase;
use self::error::{ErrorCode, MktoError};
use self::params::Params;
use self::state::{SimConfig, SimState};
use self::time_format::now_secs;

/// A running simulator's shared handle; cheap to clone.
#[derive(Clone)]
pub struct MarketoSim {
    state: Arc<Mutex<SimState>>,
    state_file: Option<Arc<PathBuf>>,
}

impl MarketoSim {
    /// A simulator around `db`.
    pub fn new(db: LeadDatabase, config: SimConfig, state_file: Option<PathBuf>) -> Self {
        Self { state: Arc::new(Mutex::new(SimState::new(db, config))), state_file: state_file.map(Arc::new) }
    }

    /// Loads the database from `path` when it exists, otherwise starts from `fallback`.
    pub fn load_or(
        path: Option<PathBuf>,
        fallback: impl FnOnce() -> LeadDatabase,
        config: SimConfig,
    ) -> std::io::Result<Self> {
        let loaded = path.as_deref().map(crate::state_file::load::<LeadDatabase>).transpose()?.flatten();
        let db = loaded.unwrap_or_else(fallback);
        Ok(Self::new(db, config, path))
    }

    /// Locks the state. Writes replace whole values, so a panic while the
    /// lock is held cannot leave it half-written; poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Saves the database to the state file (atomically) if it changed.
    /// Returns whether it wrote.
    pub fn save_if_dirty(&self) -> std::io::Result<bool> {
        let Some(path) = &self.state_file else { return Ok(false) };
        let mut state = self.lock();
        if !state.dirty {
            return Ok(false);
        }
        crate::state_file::save(path, &state.db)?;
        state.dirty = false;
        Ok(true)
    }

    /// The HTTP application.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/rest/v1/leads.json", get(rest::leads_get).post(rest::leads_post).delete(rest::delete))
            .route("/rest/v1/leads/describe.json", get(rest::describe))
            .route("/rest/v1/leads/describe2.json", get(rest::describe2))
            .route("/rest/v1/leads/push.json", post(rest::push))
            .route("/rest/v1/leads/delete.json", post(rest::delete))
            .route("/rest/v1/lead/{file}", get(rest::lead_by_id))
            .route("/rest/v1/activities.json", get(rest::activities))
            .route("/rest/v1/activities/types.json", get(rest::activity_types))
            .route("/rest/v1/activities/pagingtoken.json", get(rest::paging_token))
            .route("/rest/v1/activities/leadchanges.json", get(rest::lead_changes))
            .route("/rest/v1/activities/deletedleads.json", get(rest::deleted_leads))
            .route("/rest/v1/stats/usage.json", get(rest::daily_usage))
            .route("/bulk/v1/leads/export.json", get(bulk::list))
            .route("/bulk/v1/leads/export/create.json", post(bulk::create))
            .route("/bulk/v1/leads/export/{export_id}/enqueue.json", post(bulk::enqueue))
            .route("/bulk/v1/leads/export/{export_id}/status.json", get(bulk::status))
            .route("/bulk/v1/leads/export/{export_id}/cancel.json", post(bulk::cancel))
            .route("/bulk/v1/leads/export/{export_id}/file.json", get(bulk::file))
            .method_not_allowed_fallback(|| async { MktoError::method_not_supported() })
            .layer(axum::middleware::from_fn_with_state(self.clone(), api_guard));
        Router::new()
            .route("/identity/oauth/token", get(auth::token).post(auth::token))
            .merge(api)
            .nest("/__sim", admin::routes())
            .fallback(|| async { MktoError::resource_not_found() })
            .with_state(self.clone())
    }
}

/// Decrements the in-flight count when a call ends, however it ends.
struct InFlight(MarketoSim);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.usage.in_flight = state.usage.in_flight.saturating_sub(1);
    }
}

/// Runs before every REST and bulk call: access token (601/602), daily
/// quota (607), rate limit (606) and concurrency (615). Calls that end in
/// an error are taken back out of the counters, as Marketo does not count
/// them; every error is counted by code for `/__sim/stats`.
async fn api_guard(State(sim): State<MarketoSim>, request: Request, next: Next) -> Response {
    let params = Params::from_query(request.uri().query());
    let token = auth::request_token(request.headers(), &params);
    let admitted = {
        let mut state = sim.lock();
        let window = Duration::from_secs(state.config.rate_limit_window_secs);
        state.usage.roll(window, now_secs());
        let check = auth::check_token(&state, token.as_deref()).and_then(|()| {
            if state.usage.day_calls >= state.config.daily_quota {
                Err(MktoError::daily_quota_reached())
            } else if state.usage.window.len() as u64 >= state.config.rate_limit_calls {
                Err(MktoError::rate_limited(state.config.rate_limit_calls, state.config.rate_limit_window_secs))
            } else if state.usage.in_flight >= state.config.max_concurrent_calls {
                Err(MktoError::concurrent_limit())
            } else {
                Ok(())
            }
        });
        match check {
            Ok(()) => {
                state.usage.window.push_back(Instant::now());
                state.usage.day_calls += 1;
                state.usage.in_flight += 1;
                Ok(())
            }
            Err(error) => {
                *state.usage.errors.entry(error.code.to_string()).or_default() += 1;
                Err(error)
            }
        }
    };
    if let Err(error) = admitted {
        tracing::info!(path = %request.uri().path(), code = error.code, "marketo call refused");
        return error.into_response();
    }
    let in_flight = InFlight(sim.clone());
    let response = next.run(request).await;
    drop(in_flight);
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>().copied() {
        let mut state = sim.lock();
        state.usage.window.pop_back();
        state.usage.day_calls = state.usage.day_calls.saturating_sub(1);
        *state.usage.errors.entry(code.to_string()).or_default() += 1;
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, Request as HttpRequest, StatusCode};
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::*;

    async fn call(
        app: &Router,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = HttpRequest::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(v) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let Ok(request) = builder.body(body) else { return (StatusCode::IM_A_TEAPOT, Value::Null) };
        let Ok(response) = app.clone().oneshot(request).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn token(app: &Router) -> String {
        let uri = format!(
            "/identity/oauth/token?grant_type=client_credentials&client_id={}&client_secret={}",
            state::DEMO_CLIENT_ID,
            state::DEMO_CLIENT_SECRET
        );
        let (_, body) = call(app, "GET", &uri, None, None).await;
        body["access_token"].as_str().unwrap_or_default().to_string()
    }

    #[tokio::test]
    async fn guard_checks_tokens_and_rate_limit_and_skips_errors() {
        let config = SimConfig { rate_limit_calls: 2, ..SimConfig::default() };
        let sim = MarketoSim::new(LeadDatabase::new(), config, None);
        let app = sim.router();
        let (status, body) = call(&app, "GET", "/rest/v1/leads/describe.json", None, None).await;
        assert_eq!((status, body["errors"][0]["code"].clone()), (StatusCode::OK, json!("601")));
        let token = token(&app).await;
        // A handler error is not counted against the limit.
        let (_, body) =
            call(&app, "GET", "/rest/v1/leads.json?filterType=nope&filterValues=1", Some(&token), None).await;
        assert_eq!(body["errors"][0]["code"], "1006");
        for _ in 0..2 {
            let (_, body) = call(&app, "GET", "/rest/v1/leads/describe.json", Some(&token), None).await;
            assert_eq!(body["success"], true);
        }
        let (_, body) = call(&app, "GET", "/rest/v1/activities/types.json", Some(&token), None).await;
        assert_eq!(
            body["errors"][0],
            json!({"code": "606", "message": "Max rate limit '2' exceeded with in '20' secs"})
        );
        let errors = sim.lock().usage.errors.clone();
        assert_eq!(
            errors.into_iter().collect::<Vec<_>>(),
            vec![("1006".into(), 1), ("601".into(), 1), ("606".into(), 1)]
        );
        assert_eq!(sim.lock().usage.in_flight, 0);
    }

    #[tokio::test]
    async fn sync_then_query_through_the_router() {
        let sim = MarketoSim::new(LeadDatabase::new(), SimConfig::default(), None);
        let app = sim.router();
        let token = token(&app).await;
        let request = json!({"action": "createOnly", "input": [{"email": "a@x.com", "firstName": "Ann"}]});
        let (_, body) = call(&app, "POST", "/rest/v1/leads.json", Some(&token), Some(request)).await;
        assert_eq!(body["result"], json!([{"id": 1, "status": "created"}]));
        let (_, body) = call(
            &app,
            "GET",
            "/rest/v1/leads.json?filterType=email&filterValues=A@X.COM&fields=firstName",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(body["result"], json!([{"id": 1, "firstName": "Ann"}]));
        assert!(sim.lock().dirty);
        let (_, body) = call(&app, "PATCH", "/rest/v1/leads.json", Some(&token), None).await;
        assert_eq!(body["errors"][0]["code"], "605");
        let (_, body) = call(&app, "GET", "/rest/v1/nothing.json", Some(&token), None).await;
        assert_eq!(body["errors"][0]["code"], "610");
    }
}
