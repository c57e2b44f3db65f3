//! Authentication: the identity endpoint (`/identity/oauth/token`, client
//! credentials from the query string or a form body) and the access token
//! check for REST and bulk calls (`Authorization: Bearer` or the
//! `access_token` query parameter).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::{IdentityError, MktoError};
use super::params::Params;
use super::state::SimState;
use super::MarketoSim;

/// `GET|POST /identity/oauth/token?grant_type=client_credentials&client_id=..&client_secret=..`.
pub async fn token(
    State(sim): State<MarketoSim>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = Params::from_query(query.as_deref());
    if super::rest::body_kind(&headers) == super::rest::BodyKind::Form {
        params.extend(Params::from_form(&body));
    }
    let mut state = sim.lock();
    match issue(&mut state, &params) {
        Ok(body) => Json(body).into_response(),
        Err(error) => {
            tracing::info!(error = error.error, "marketo identity call refused");
            error.into_response()
        }
    }
}

fn issue(state: &mut SimState, params: &Params) -> Result<serde_json::Value, IdentityError> {
    if params.get("grant_type") != Some("client_credentials") {
        return Err(IdentityError::unsupported_grant_type());
    }
    let client_id = params.get("client_id").unwrap_or_default();
    let client = state
        .clients
        .get(client_id)
        .filter(|c| params.get("client_secret") == Some(c.client_secret.as_str()))
        .cloned()
        .ok_or_else(IdentityError::bad_credentials)?;
    let (access_token, remaining) = state.token_for(&client.client_id);
    Ok(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": remaining.as_secs(),
        "scope": client.api_user,
    }))
}

/// The access token of a request: the bearer header, else `access_token`.
pub fn request_token(headers: &HeaderMap, params: &Params) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string());
    bearer.or_else(|| params.get("access_token").map(str::to_string)).filter(|t| !t.is_empty())
}

/// Checks a token: 601 when missing or unknown, 602 when expired.
pub fn check_token(state: &SimState, token: Option<&str>) -> Result<(), MktoError> {
    let token = token.ok_or_else(MktoError::access_token_invalid)?;
    let issued = state.tokens.get(token).ok_or_else(MktoError::access_token_invalid)?;
    if issued.expires_at <= Instant::now() {
        return Err(MktoError::access_token_expired());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::db::LeadDatabase;
    use super::super::state::{SimConfig, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn client_credentials_issue_a_bearer_token_that_checks() {
        let mut state = SimState::new(LeadDatabase::new(), SimConfig::default());
        let good = params(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEMO_CLIENT_ID),
            ("client_secret", DEMO_CLIENT_SECRET),
        ]);
        let body = issue(&mut state, &good).unwrap_or_default();
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], "api-user@sluice.dev");
        let token = body["access_token"].as_str().unwrap_or_default().to_string();
        assert_eq!(check_token(&state, Some(&token)), Ok(()));
        assert_eq!(check_token(&state, Some("nope")), Err(MktoError::access_token_invalid()));
        assert_eq!(check_token(&state, None), Err(MktoError::access_token_invalid()));
        if let Some(t) = state.tokens.get_mut(&token) {
            t.expires_at = Instant::now();
        }
        assert_eq!(check_token(&state, Some(&token)), Err(MktoError::access_token_expired()));
    }

    #[test]
    fn bad_credentials_and_grant_types_are_refused() {
        let mut state = SimState::new(LeadDatabase::new(), SimConfig::default());
        let wrong =
            params(&[("grant_type", "client_credentials"), ("client_id", DEMO_CLIENT_ID), ("client_secret", "x")]);
        assert_eq!(issue(&mut state, &wrong).err().map(|e| e.description), Some("Bad client credentials"));
        let grant = params(&[("grant_type", "password")]);
        assert_eq!(issue(&mut state, &grant).err().map(|e| e.error), Some("invalid_request"));
    }

    #[test]
    fn bearer_header_wins_over_query_parameter() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer abc:sim".parse().unwrap_or(header::HeaderValue::from_static("")));
        assert_eq!(request_token(&headers, &params(&[("access_token", "q")])), Some("abc:sim".to_string()));
        assert_eq!(request_token(&HeaderMap::new(), &params(&[("access_token", "q")])), Some("q".to_string()));
        assert_eq!(request_token(&HeaderMap::new(), &params(&[])), None);
    }
}
