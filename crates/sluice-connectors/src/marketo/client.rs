//! A Marketo REST client: an identity token from the profile's client
//! credentials (renewed when Marketo says it is invalid or expired: 601,
//! 602), Marketo's error envelope (`success: false`, `errors[].code`,
//! answered with HTTP 200), and its limits: 606 (rate) and 615
//! (concurrency) are waited out with backoff, 607 (daily quota) ends the
//! call with a message saying when the quota resets.

use std::time::Duration;

use serde_json::Value;
use sluice_model::wire::SecretString;
use tokio::sync::Mutex;

use crate::ConnectorError;

/// The system named in errors.
pub const SYSTEM: &str = "Marketo";
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Attempts of a call that Marketo throttles (606, 615) before giving up.
const THROTTLED_ATTEMPTS: u32 = 8;
/// The first wait after a throttled call (doubled each time, at most 20 s:
/// Marketo's rate window).
const FIRST_THROTTLE_WAIT: Duration = Duration::from_millis(500);
const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(20);

/// A client of one Marketo instance.
pub struct MarketoClient {
    http: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: SecretString,
    token: Mutex<Option<SecretString>>,
    throttle_wait: Duration,
}

impl std::fmt::Debug for MarketoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketoClient").field("base", &self.base).field("client_id", &self.client_id).finish()
    }
}

/// A Marketo error code of a failed call, as Marketo sends it.
fn error_code(body: &Value) -> Option<(String, String)> {
    let error = body.get("errors")?.as_array()?.first()?;
    let code = match error.get("code")? {
        Value::String(code) => code.clone(),
        other => other.to_string(),
    };
    let message = error.get("message").and_then(Value::as_str).unwrap_or("").to_string();
    Some((code, message))
}

impl MarketoClient {
    /// A client of the instance at `instance_url` (`https://123-ABC-456.mktorest.com`).
    pub fn new(http: reqwest::Client, instance_url: &str, client_id: &str, client_secret: SecretString) -> Self {
        Self {
            http,
            base: instance_url.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            client_secret,
            token: Mutex::new(None),
            throttle_wait: FIRST_THROTTLE_WAIT,
        }
    }

    /// Waits `wait` (doubling) after a throttled call instead of the default.
    pub fn with_throttle_wait(mut self, wait: Duration) -> Self {
        self.throttle_wait = wait;
        self
    }

    fn unreachable(error: reqwest::Error) -> ConnectorError {
        ConnectorError::Unreachable { system: SYSTEM, message: error.without_url().to_string() }
    }

    /// A new identity token (the secret goes in the form body, not the URL).
    async fn new_token(&self) -> Result<SecretString, ConnectorError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
        ];
        let response = self
            .http
            .post(format!("{}/identity/oauth/token", self.base))
            .form(&form)
            .send()
            .await
            .map_err(Self::unreachable)?;
        let status = response.status();
        let body: Value = response.json().await.map_err(Self::unreachable)?;
        if let Some(token) = body.get("access_token").and_then(Value::as_str).filter(|_| status.is_success()) {
            return Ok(SecretString::new(token.to_string()));
        }
        let description = body.get("error_description").and_then(Value::as_str).unwrap_or("no access token");
        if status.as_u16() == 401 || status.as_u16() == 400 {
            return Err(ConnectorError::Authentication(format!(
                "Marketo refused the client credentials of client {}: {description}",
                self.client_id
            )));
        }
        Err(ConnectorError::Remote {
            system: SYSTEM,
            code: status.as_u16().to_string(),
            message: format!("the identity service answered {status}: {description}"),
            status: status.as_u16(),
        })
    }

    async fn token(&self, renew: bool) -> Result<SecretString, ConnectorError> {
        let mut held = self.token.lock().await;
        if let (Some(token), false) = (held.as_ref(), renew) {
            return Ok(token.clone());
        }
        let token = self.new_token().await?;
        *held = Some(token.clone());
        Ok(token)
    }

    /// Proves the credentials work: a token (one identity call).
    pub async fn authenticate(&self) -> Result<(), ConnectorError> {
        self.token(true).await.map(|_| ())
    }

    /// `GET path?query` on the REST API; the whole envelope (`result`,
    /// `nextPageToken`, `moreResult`).
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ConnectorError> {
        self.call(reqwest::Method::GET, path, query, None).await?.envelope(path)
    }

    /// `POST path` with a JSON body (or none); the whole envelope.
    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, ConnectorError> {
        self.call(reqwest::Method::POST, path, &[], body).await?.envelope(path)
    }

    /// `GET path` of a file (a bulk export's CSV), to be read as it comes.
    pub async fn get_file(&self, path: &str) -> Result<reqwest::Response, ConnectorError> {
        self.call(reqwest::Method::GET, path, &[], None).await?.file(path)
    }

    /// One call with Marketo's rules: the envelope's error codes renew the
    /// token, wait out throttling or end the call; an answer that is not
    /// JSON (a file) is handed back unread.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, ConnectorError> {
        let mut renewed = false;
        let mut wait = self.throttle_wait;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.token(false).await?;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .query(query)
                .bearer_auth(token.expose());
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(Self::unreachable)?;
            let status = response.status();
            let is_json = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("json"));
            if status.is_success() && !is_json {
                return Ok(Answer::File(response));
            }
            let bytes = response.bytes().await.map_err(Self::unreachable)?;
            if !status.is_success() {
                return Err(ConnectorError::Remote {
                    system: SYSTEM,
                    code: status.as_u16().to_string(),
                    message: format!(
                        "{path} answered {status}: {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                    ),
                    status: status.as_u16(),
                });
            }
            let body: Value = serde_json::from_slice(&bytes)
                .map_err(|e| ConnectorError::Protocol { system: SYSTEM, message: format!("{path}: not JSON: {e}") })?;
            if body.get("success").and_then(Value::as_bool) != Some(false) && error_code(&body).is_none() {
                return Ok(Answer::Envelope(body));
            }
            let (code, message) = error_code(&body).unwrap_or_else(|| ("unknown".into(), body.to_string()));
            match code.as_str() {
                "601" | "602" if !renewed => {
                    tracing::info!(code = %code, "Marketo token no longer valid; renewing it");
                    renewed = true;
                    let _ = self.token(true).await?;
                }
                "606" | "615" if attempt < THROTTLED_ATTEMPTS => {
                    tracing::info!(code = %code, wait_ms = wait.as_millis() as u64, "Marketo throttled the call; waiting");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_THROTTLE_WAIT);
                }
                "607" | "1029" => {
                    let quota = if code == "607" { "daily API quota" } else { "daily bulk export quota" };
                    return Err(ConnectorError::Remote {
                        system: SYSTEM,
                        code,
                        message: format!(
                            "{message}: the instance's {quota} is used up; it resets at midnight US Central time \
                             (America/Chicago)"
                        ),
                        status: 403,
                    });
                }
                _ => {
                    let status = if matches!(code.as_str(), "606" | "615" | "608" | "611" | "604") { 503 } else { 400 };
                    return Err(ConnectorError::Remote { system: SYSTEM, code, message, status });
                }
            }
        }
    }
}

/// What a successful call answered.
enum Answer {
    /// Marketo's JSON envelope.
    Envelope(Value),
    /// A file, not read yet.
    File(reqwest::Response),
}

impl Answer {
    fn envelope(self, path: &str) -> Result<Value, ConnectorError> {
        match self {
            Answer::Envelope(body) => Ok(body),
            Answer::File(_) => Err(ConnectorError::Protocol {
                system: SYSTEM,
                message: format!("{path}: a file where JSON was expected"),
            }),
        }
    }

    fn file(self, path: &str) -> Result<reqwest::Response, ConnectorError> {
        match self {
            Answer::File(response) => Ok(response),
            Answer::Envelope(_) => Err(ConnectorError::Protocol {
                system: SYSTEM,
                message: format!("{path}: JSON where a file was expected"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_codes_come_as_strings_or_numbers() {
        let body = json!({"success": false, "errors": [{"code": "606", "message": "Max rate limit"}]});
        assert_eq!(error_code(&body), Some(("606".into(), "Max rate limit".into())));
        let body = json!({"success": false, "errors": [{"code": 1003, "message": "x"}]});
        assert_eq!(error_code(&body), Some(("1003".into(), "x".into())));
        assert_eq!(error_code(&json!({"success": true})), None);
    }
}
