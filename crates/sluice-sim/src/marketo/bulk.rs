//! Bulk lead export handlers under `/bulk/v1/leads/export`: list, create,
//! enqueue, status, cancel, and the file (whole or a byte `Range`).

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};

use super::error::{success, MktoError};
use super::export::{ExportJob, ExportStatus};
use super::params::Params;
use super::rest::batch_size;
use super::time_format::now_secs;
use super::MarketoSim;

fn job_response(job: Result<&ExportJob, MktoError>) -> Response {
    match job {
        Ok(job) => Json(success(vec![job.to_json()])).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /bulk/v1/leads/export.json[?status=Completed,Failed&batchSize=..]`.
pub async fn list(State(sim): State<MarketoSim>, RawQuery(query): RawQuery) -> Response {
    let params = Params::from_query(query.as_deref());
    let statuses = params.list("status");
    let batch = match batch_size(&params) {
        Ok(batch) => batch,
        Err(error) => return error.into_response(),
    };
    let state = sim.lock();
    let result: Vec<Value> = state
        .exports
        .jobs
        .iter()
        .filter(|j| statuses.is_empty() || statuses.iter().any(|s| s == j.status.name()))
        .take(batch)
        .map(ExportJob::to_json)
        .collect();
    Json(success(result)).into_response()
}

/// `POST /bulk/v1/leads/export/create.json`.
pub async fn create(State(sim): State<MarketoSim>, body: Bytes) -> Response {
    let request = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => map,
        _ => return MktoError::invalid_json().into_response(),
    };
    create_job(&sim, &request)
}

fn create_job(sim: &MarketoSim, request: &Map<String, Value>) -> Response {
    let mut state = sim.lock();
    let job = state.exports.create(request, now_secs());
    if let Ok(job) = &job {
        tracing::info!(export_id = %job.id, "marketo export job created");
    }
    job_response(job)
}

/// `POST /bulk/v1/leads/export/{exportId}/enqueue.json`.
pub async fn enqueue(State(sim): State<MarketoSim>, Path(id): Path<String>) -> Response {
    let mut state = sim.lock();
    let quota = state.config.export_daily_quota_bytes;
    job_response(state.exports.enqueue(&id, now_secs(), quota))
}

/// `GET /bulk/v1/leads/export/{exportId}/status.json` (moves the job on).
pub async fn status(State(sim): State<MarketoSim>, Path(id): Path<String>) -> Response {
    let mut state = sim.lock();
    let min_state_ms = state.config.export_min_state_ms;
    let state = &mut *state;
    job_response(state.exports.poll(&id, &state.db, now_secs(), min_state_ms))
}

/// `POST /bulk/v1/leads/export/{exportId}/cancel.json`.
pub async fn cancel(State(sim): State<MarketoSim>, Path(id): Path<String>) -> Response {
    job_response(sim.lock().exports.cancel(&id))
}

/// A `bytes=a-b`, `bytes=a-` or `bytes=-n` range within `len` bytes.
fn byte_range(header: &str, len: usize) -> Option<(usize, usize)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let last = len.checked_sub(1)?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: usize = suffix.parse().ok()?;
            (len.saturating_sub(n), last)
        }
        (start, "") => (start.parse().ok()?, last),
        (start, end) => (start.parse().ok()?, end.parse::<usize>().ok()?.min(last)),
    };
    (start <= end && end <= last).then_some((start, end))
}

/// `GET /bulk/v1/leads/export/{exportId}/file.json`: the file, or 404 with a
/// plain-text message when the job is unknown or not completed.
pub async fn file(State(sim): State<MarketoSim>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let (file, status) = {
        let state = sim.lock();
        let status = state.exports.get(&id).map(|j| j.status).ok();
        (state.exports.file(&id).map(<[u8]>::to_vec), status)
    };
    let Some(file) = file else {
        let message = match status {
            None => format!("Export job {id} not found"),
            Some(status) => format!("Export job {id} is {}, not {}", status.name(), ExportStatus::Completed.name()),
        };
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain")], message).into_response();
    };
    let total = file.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(|r| byte_range(r, total));
    let mut response = match range {
        Some((start, end)) => {
            let mut response = (StatusCode::PARTIAL_CONTENT, Body::from(file[start..=end].to_vec())).into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{total}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            response
        }
        None => (StatusCode::OK, Body::from(file)).into_response(),
    };
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    response.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_follow_rfc_7233() {
        assert_eq!(byte_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(byte_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(byte_range("bytes=100-", 100), None);
        assert_eq!(byte_range("items=0-1", 100), None);
        assert_eq!(byte_range("bytes=0-0", 0), None);
    }
}
