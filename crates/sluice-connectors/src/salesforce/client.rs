//! A Salesforce REST client: bearer calls that refresh the access token
//! once on `INVALID_SESSION_ID`, a query pager over `nextRecordsUrl`, and
//! sObject collection writes.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use sluice_model::wire::SecretString;
use tokio::sync::Mutex;

use crate::retry::Retries;
use crate::ConnectorError;

const SYSTEM: &str = "Salesforce";

/// API version the client speaks.
pub const API_VERSION: &str = "62.0";
/// Most records in one sObject collection call.
pub const COLLECTION_LIMIT: usize = 200;

/// The connected app used to refresh tokens.
#[derive(Debug, Clone)]
pub struct ClientApp {
    /// Consumer key.
    pub client_id: String,
    /// Consumer secret (not needed by every org for refresh).
    pub client_secret: Option<SecretString>,
}

/// Tokens of a session.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    /// Current access token.
    pub access_token: Option<SecretString>,
    /// Refresh token.
    pub refresh_token: Option<SecretString>,
}

/// The owner of a client's tokens: told about every refresh, so it can
/// store the new tokens, and about a refresh the org refused for good. The
/// client waits for it before going on: a rotated refresh token is saved
/// before any further call is made.
#[async_trait::async_trait]
pub trait TokenKeeper: Send + Sync {
    /// The tokens after a refresh (with a rotated refresh token, if any).
    async fn refreshed(&self, tokens: Tokens);
    /// The org refused the refresh token (`invalid_grant`): a new login
    /// is needed.
    async fn refused(&self, reason: &str);
}

/// A Salesforce org reached with OAuth tokens.
pub struct SalesforceClient {
    http: reqwest::Client,
    instance_url: String,
    app: Option<ClientApp>,
    tokens: Mutex<Tokens>,
    keeper: Option<Arc<dyn TokenKeeper>>,
    retries: Retries,
}

/// Outcome of one record in a collection write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordResult {
    /// Record id when it succeeded.
    pub id: Option<String>,
    /// Whether it succeeded.
    pub success: bool,
    /// For upserts: whether a record was created.
    pub created: Option<bool>,
    /// `statusCode: message` of each error.
    pub errors: Vec<String>,
}

/// How records are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOperation {
    /// Create new records.
    Insert,
    /// Update records by `Id`.
    Update,
    /// Create or update by an external id field.
    Upsert {
        /// The external id field.
        external_id_field: String,
    },
    /// Delete records by `Id`.
    Delete,
}

impl SalesforceClient {
    /// A client for the org at `instance_url`.
    pub fn new(http: reqwest::Client, instance_url: &str, app: Option<ClientApp>, tokens: Tokens) -> Self {
        Self {
            http,
            instance_url: instance_url.trim_end_matches('/').to_string(),
            app,
            tokens: Mutex::new(tokens),
            keeper: None,
            retries: Retries::none(),
        }
    }

    /// Retries calls that fail for a while (HTTP 5xx, timeouts, resets,
    /// `REQUEST_LIMIT_EXCEEDED`) as `retries` says, counting them.
    pub fn with_retries(mut self, retries: Retries) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the owner told about refreshed and refused tokens.
    pub fn with_token_keeper(mut self, keeper: Arc<dyn TokenKeeper>) -> Self {
        self.keeper = Some(keeper);
        self
    }

    /// The org's base URL.
    pub fn instance_url(&self) -> &str {
        &self.instance_url
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.instance_url)
        }
    }

    /// Exchanges the refresh token for a new access token (and, when the
    /// org rotates them, a new refresh token).
    pub async fn refresh(&self) -> Result<(), ConnectorError> {
        self.refresh_replacing(None).await
    }

    /// Refreshes unless the access token was already replaced since
    /// `rejected` was refused (another call refreshed it meanwhile).
    async fn refresh_replacing(&self, rejected: Option<&SecretString>) -> Result<(), ConnectorError> {
        let mut tokens = self.tokens.lock().await;
        if let (Some(rejected), Some(current)) = (rejected, tokens.access_token.as_ref()) {
            if rejected.expose() != current.expose() {
                return Ok(());
            }
        }
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            let reason = "the access token expired and there is no refresh token";
            if let Some(keeper) = &self.keeper {
                keeper.refused(reason).await;
            }
            return Err(ConnectorError::ReauthRequired(reason.into()));
        };
        let app = self.app.as_ref().ok_or_else(|| {
            ConnectorError::ReauthRequired(
                "the access token expired and no connected app is known to refresh it".into(),
            )
        })?;
        let mut form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh_token.expose().to_string()),
            ("client_id", app.client_id.clone()),
        ];
        if let Some(secret) = &app.client_secret {
            form.push(("client_secret", secret.expose().to_string()));
        }
        let response = self
            .http
            .post(self.url("/services/oauth2/token"))
            .form(&form)
            .send()
            .await
            .map_err(|e| ConnectorError::Unreachable { system: SYSTEM, message: e.to_string() })?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| ConnectorError::Protocol { system: SYSTEM, message: format!("token response: {e}") })?;
        if !status.is_success() {
            let error = body.get("error").and_then(Value::as_str).unwrap_or("unknown_error").to_string();
            let description = body.get("error_description").and_then(Value::as_str).unwrap_or("").to_string();
            tracing::warn!(error = %error, "salesforce token refresh refused");
            let reason = format!("{error}: {description}");
            if error != "invalid_grant" {
                return Err(ConnectorError::Authentication(reason));
            }
            if let Some(keeper) = &self.keeper {
                keeper.refused(&reason).await;
            }
            return Err(ConnectorError::ReauthRequired(reason));
        }
        let access = body.get("access_token").and_then(Value::as_str).ok_or_else(|| ConnectorError::Protocol {
            system: SYSTEM,
            message: "token response has no access_token".into(),
        })?;
        tokens.access_token = Some(SecretString::new(access));
        if let Some(rotated) = body.get("refresh_token").and_then(Value::as_str) {
            tokens.refresh_token = Some(SecretString::new(rotated));
        }
        tracing::info!(rotated = body.get("refresh_token").is_some(), "salesforce access token refreshed");
        if let Some(keeper) = &self.keeper {
            keeper.refreshed(tokens.clone()).await;
        }
        Ok(())
    }

    /// Sends one call, retrying transient failures; on `401` refreshes the
    /// token once and sends it again. Returns the status and the body as
    /// JSON (text that is not JSON as a JSON string, an empty body as null).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ConnectorError> {
        let body = body.map(|b| bytes::Bytes::from(serde_json::to_vec(b).unwrap_or_default()));
        let (status, _, bytes) = self.send(method, path, "application/json", body).await?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, value))
    }

    /// Sends one request and reads the whole answer, retrying transient
    /// failures as the client's [`Retries`] say. A success (or `300` from
    /// an upsert with several matches) is returned; anything else is an error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Option<bytes::Bytes>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), ConnectorError> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        self.retries.run(&what, || self.send_once(method.clone(), path, content_type, body.clone(), None)).await
    }

    /// One JSON POST without retries, answered within `timeout` (a CometD
    /// long poll is held by the server for up to two minutes); on `401` the
    /// token is refreshed once and the request sent again.
    pub async fn post_json_once(&self, path: &str, body: &Value, timeout: Duration) -> Result<Value, ConnectorError> {
        let body = bytes::Bytes::from(serde_json::to_vec(body).unwrap_or_default());
        let (_, _, bytes) = self.send_once(Method::POST, path, "application/json", Some(body), Some(timeout)).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ConnectorError::Protocol { system: SYSTEM, message: format!("{path}: not JSON: {e}") })
    }

    /// One attempt of [`SalesforceClient::send`]: on `401` the token is
    /// refreshed once and the request sent again.
    async fn send_once(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Option<bytes::Bytes>,
        timeout: Option<Duration>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), ConnectorError> {
        let unreachable = |e: reqwest::Error| ConnectorError::Unreachable { system: SYSTEM, message: e.to_string() };
        for attempt in 0..2 {
            let token = self.tokens.lock().await.access_token.clone();
            let Some(token) = token else {
                self.refresh().await?;
                continue;
            };
            let mut request = self.http.request(method.clone(), self.url(path)).bearer_auth(token.expose());
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            if let Some(body) = &body {
                // Shared bytes: a retry does not copy a large upload.
                request = request.header(reqwest::header::CONTENT_TYPE, content_type).body(body.clone());
            }
            let response = request.send().await.map_err(unreachable)?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                tracing::info!("salesforce session expired; refreshing");
                self.refresh_replacing(Some(&token)).await?;
                continue;
            }
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(unreachable)?;
            if status.is_success() || status == StatusCode::MULTIPLE_CHOICES {
                return Ok((status, headers, bytes));
            }
            let text = String::from_utf8_lossy(&bytes);
            let value: Value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
            };
            return Err(remote_error(status, &value));
        }
        Err(ConnectorError::Authentication("the refreshed access token was refused too".into()))
    }

    /// GET returning the raw body (query pages decoded straight into Arrow).
    pub async fn get_bytes(&self, path: &str) -> Result<bytes::Bytes, ConnectorError> {
        self.send(Method::GET, path, "application/json", None).await.map(|(_, _, bytes)| bytes)
    }

    /// The first page path of a SOQL query; `include_deleted` uses `queryAll`.
    pub fn query_path(soql: &str, include_deleted: bool) -> String {
        let resource = if include_deleted { "queryAll" } else { "query" };
        format!("/services/data/v{API_VERSION}/{resource}?q={}", encode(soql))
    }

    /// GET returning JSON.
    pub async fn get(&self, path: &str) -> Result<Value, ConnectorError> {
        self.call(Method::GET, path, None).await.map(|(_, v)| v)
    }

    /// The org's limits (a cheap call that proves the session works).
    pub async fn limits(&self) -> Result<Value, ConnectorError> {
        self.get(&format!("/services/data/v{API_VERSION}/limits")).await
    }

    /// Global describe: every object.
    pub async fn list_objects(&self) -> Result<Vec<Value>, ConnectorError> {
        let body = self.get(&format!("/services/data/v{API_VERSION}/sobjects")).await?;
        Ok(body.get("sobjects").and_then(Value::as_array).cloned().unwrap_or_default())
    }

    /// Describe of one object.
    pub async fn describe(&self, object: &str) -> Result<Value, ConnectorError> {
        self.get(&format!("/services/data/v{API_VERSION}/sobjects/{}/describe", encode(object))).await
    }

    /// Pages of a SOQL query; `include_deleted` uses `queryAll`.
    pub fn query(&self, soql: &str, include_deleted: bool) -> QueryPager<'_> {
        QueryPager { client: self, next: Some(Self::query_path(soql, include_deleted)), total_size: None }
    }

    /// Writes up to [`COLLECTION_LIMIT`] records with one sObject collection
    /// call (`allOrNone` false: each record succeeds or fails alone).
    pub async fn write_collection(
        &self,
        object: &str,
        operation: &WriteOperation,
        records: &[Map<String, Value>],
    ) -> Result<Vec<RecordResult>, ConnectorError> {
        if records.len() > COLLECTION_LIMIT {
            return Err(ConnectorError::Protocol {
                system: SYSTEM,
                message: format!("at most {COLLECTION_LIMIT} records per collection call, got {}", records.len()),
            });
        }
        let typed: Vec<Value> = records
            .iter()
            .map(|r| {
                let mut record = r.clone();
                record.insert("attributes".into(), json!({"type": object}));
                Value::Object(record)
            })
            .collect();
        let base = format!("/services/data/v{API_VERSION}/composite/sobjects");
        let (_, body) = match operation {
            WriteOperation::Insert => {
                self.call(Method::POST, &base, Some(&json!({"allOrNone": false, "records": typed}))).await?
            }
            WriteOperation::Update => {
                self.call(Method::PATCH, &base, Some(&json!({"allOrNone": false, "records": typed}))).await?
            }
            WriteOperation::Upsert { external_id_field } => {
                let path = format!("{base}/{}/{}", encode(object), encode(external_id_field));
                self.call(Method::PATCH, &path, Some(&json!({"allOrNone": false, "records": typed}))).await?
            }
            WriteOperation::Delete => {
                let ids: Vec<&str> = records.iter().filter_map(|r| r.get("Id").and_then(Value::as_str)).collect();
                let path = format!("{base}?allOrNone=false&ids={}", ids.join(","));
                self.call(Method::DELETE, &path, None).await?
            }
        };
        let results = body.as_array().ok_or_else(|| ConnectorError::Protocol {
            system: SYSTEM,
            message: "collection response is not a list".into(),
        })?;
        Ok(results
            .iter()
            .map(|r| RecordResult {
                id: r.get("id").and_then(Value::as_str).map(str::to_string),
                success: r.get("success").and_then(Value::as_bool).unwrap_or(false),
                created: r.get("created").and_then(Value::as_bool),
                errors: r
                    .get("errors")
                    .and_then(Value::as_array)
                    .map(|errors| {
                        errors
                            .iter()
                            .map(|e| {
                                format!(
                                    "{}: {}",
                                    e.get("statusCode").and_then(Value::as_str).unwrap_or("UNKNOWN"),
                                    e.get("message").and_then(Value::as_str).unwrap_or("")
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect())
    }
}

/// Pages of a query, following `nextRecordsUrl`.
pub struct QueryPager<'a> {
    client: &'a SalesforceClient,
    next: Option<String>,
    total_size: Option<u64>,
}

impl QueryPager<'_> {
    /// The next page of records (without `attributes`), or `None` at the end.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Map<String, Value>>>, ConnectorError> {
        let Some(path) = self.next.clone() else { return Ok(None) };
        let body = self.client.get(&path).await?;
        self.total_size = body.get("totalSize").and_then(Value::as_u64);
        self.next = body.get("nextRecordsUrl").and_then(Value::as_str).map(str::to_string);
        let records = body.get("records").and_then(Value::as_array).ok_or_else(|| ConnectorError::Protocol {
            system: SYSTEM,
            message: "query response has no records".into(),
        })?;
        Ok(Some(
            records
                .iter()
                .filter_map(Value::as_object)
                .map(|r| {
                    let mut record = r.clone();
                    record.remove("attributes");
                    record
                })
                .collect(),
        ))
    }

    /// `totalSize` of the query, known after the first page.
    pub fn total_size(&self) -> Option<u64> {
        self.total_size
    }
}

fn remote_error(status: StatusCode, body: &Value) -> ConnectorError {
    let first = body.as_array().and_then(|a| a.first()).unwrap_or(body);
    // A body that is not Salesforce's error JSON (a proxy's page, an empty
    // reply) is reported with the HTTP status and its text.
    let plain = || match body {
        Value::String(text) if !text.trim().is_empty() => format!("HTTP {status}: {}", text.trim()),
        Value::Null | Value::String(_) => format!("HTTP {status} with no error body"),
        other => format!("HTTP {status}: {other}"),
    };
    ConnectorError::Remote {
        system: SYSTEM,
        code: first.get("errorCode").and_then(Value::as_str).unwrap_or("UNKNOWN").to_string(),
        message: first.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(plain),
        status: status.as_u16(),
    }
}

/// Everything but RFC 3986's unreserved characters is percent-encoded
/// (object names such as `Holiday_Event__e` stay as they are).
const COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, COMPONENT).to_string()
}

/// Bulk API 2.0 job states after which a job does not change.
const FINAL_JOB_STATES: &[&str] = &["JobComplete", "Failed", "Aborted"];

/// How a finished Bulk API 2.0 ingest job went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    /// The job id.
    pub job_id: String,
    /// Records processed (succeeded plus failed).
    pub records_processed: u64,
    /// Records that failed.
    pub records_failed: u64,
    /// `failedResults` CSV: `sf__Id,sf__Error,` then the uploaded columns.
    pub failed_csv: String,
}

impl SalesforceClient {
    /// Polls a Bulk API 2.0 job until it reaches a final state, waiting
    /// longer between polls as it runs (20 ms, then half as long again each
    /// time, up to 1 s: a short job is seen done soon after it is, a long
    /// one costs about one API call a second).
    async fn wait_for_job(&self, kind: &str, job_id: &str) -> Result<Value, ConnectorError> {
        let mut delay = std::time::Duration::from_millis(20);
        loop {
            let job = self.get(&format!("/services/data/v{API_VERSION}/jobs/{kind}/{job_id}")).await?;
            let state = job.get("state").and_then(Value::as_str).unwrap_or("");
            if FINAL_JOB_STATES.contains(&state) {
                if state != "JobComplete" {
                    let message = job.get("errorMessage").and_then(Value::as_str).unwrap_or(state).to_string();
                    return Err(ConnectorError::Remote {
                        system: SYSTEM,
                        code: format!("BULK_JOB_{state}"),
                        message,
                        status: 200,
                    });
                }
                return Ok(job);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 3 / 2).min(std::time::Duration::from_secs(1));
        }
    }

    /// Runs a Bulk API 2.0 query job and returns a reader of its CSV pages.
    pub async fn bulk_query(&self, soql: &str, include_deleted: bool) -> Result<BulkQueryPages<'_>, ConnectorError> {
        Ok(BulkQueryPages { client: self, job: self.bulk_query_job(soql, include_deleted).await? })
    }

    /// Runs a Bulk API 2.0 query job to completion; its CSV pages are read
    /// with [`SalesforceClient::bulk_results_page`].
    pub async fn bulk_query_job(&self, soql: &str, include_deleted: bool) -> Result<BulkJob, ConnectorError> {
        let operation = if include_deleted { "queryAll" } else { "query" };
        let body = json!({"operation": operation, "query": soql, "contentType": "CSV", "lineEnding": "LF"});
        let (_, job) =
            self.call(Method::POST, &format!("/services/data/v{API_VERSION}/jobs/query"), Some(&body)).await?;
        let job_id = job
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ConnectorError::Protocol { system: SYSTEM, message: "query job has no id".into() })?
            .to_string();
        let finished = self.wait_for_job("query", &job_id).await?;
        Ok(BulkJob {
            job_id,
            locator: Some(String::new()),
            records: finished.get("numberRecordsProcessed").and_then(Value::as_u64),
        })
    }

    /// The next CSV page of a finished query job (each with its header
    /// row), or `None` at the end. A page that fails can be asked for again.
    pub async fn bulk_results_page(
        &self,
        job: &mut BulkJob,
        max_records: usize,
    ) -> Result<Option<String>, ConnectorError> {
        let Some(locator) = job.locator.take() else { return Ok(None) };
        let mut path =
            format!("/services/data/v{API_VERSION}/jobs/query/{}/results?maxRecords={max_records}", job.job_id);
        if !locator.is_empty() {
            path.push_str(&format!("&locator={}", encode(&locator)));
        }
        let (_, headers, bytes) = match self.send(Method::GET, &path, "text/csv", None).await {
            Ok(answer) => answer,
            Err(error) => {
                job.locator = Some(locator);
                return Err(error);
            }
        };
        let next = headers.get("Sforce-Locator").and_then(|v| v.to_str().ok()).unwrap_or("null").to_string();
        job.locator = (next != "null" && !next.is_empty()).then_some(next);
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Loads CSV with one Bulk API 2.0 ingest job and waits for it.
    pub async fn bulk_ingest(
        &self,
        object: &str,
        operation: &WriteOperation,
        csv: Vec<u8>,
    ) -> Result<IngestOutcome, ConnectorError> {
        let mut body = json!({"object": object, "contentType": "CSV", "lineEnding": "LF"});
        body["operation"] = json!(match operation {
            WriteOperation::Insert => "insert",
            WriteOperation::Update => "update",
            WriteOperation::Upsert { .. } => "upsert",
            WriteOperation::Delete => "delete",
        });
        if let WriteOperation::Upsert { external_id_field } = operation {
            body["externalIdFieldName"] = json!(external_id_field);
        }
        let base = format!("/services/data/v{API_VERSION}/jobs/ingest");
        let (_, job) = self.call(Method::POST, &base, Some(&body)).await?;
        let job_id = job
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ConnectorError::Protocol { system: SYSTEM, message: "ingest job has no id".into() })?
            .to_string();
        let uploaded = self.send(Method::PUT, &format!("{base}/{job_id}/batches"), "text/csv", Some(csv.into())).await;
        if let Err(error) = uploaded {
            let _ = self.call(Method::PATCH, &format!("{base}/{job_id}"), Some(&json!({"state": "Aborted"}))).await;
            return Err(error);
        }
        self.call(Method::PATCH, &format!("{base}/{job_id}"), Some(&json!({"state": "UploadComplete"}))).await?;
        let finished = self.wait_for_job("ingest", &job_id).await?;
        let (_, _, failed) =
            self.send(Method::GET, &format!("{base}/{job_id}/failedResults"), "text/csv", None).await?;
        let failed_csv = String::from_utf8_lossy(&failed).into_owned();
        let count = |key: &str| finished.get(key).and_then(Value::as_u64).unwrap_or(0);
        Ok(IngestOutcome {
            job_id,
            records_processed: count("numberRecordsProcessed"),
            records_failed: count("numberRecordsFailed"),
            failed_csv,
        })
    }
}

/// A finished Bulk API 2.0 query job and where its reading is.
#[derive(Debug, Clone)]
pub struct BulkJob {
    job_id: String,
    /// `None` once every page was read; empty before the first.
    locator: Option<String>,
    records: Option<u64>,
}

impl BulkJob {
    /// Records the job found.
    pub fn record_count(&self) -> Option<u64> {
        self.records
    }
}

/// CSV pages of a finished Bulk API 2.0 query job.
pub struct BulkQueryPages<'a> {
    client: &'a SalesforceClient,
    job: BulkJob,
}

impl BulkQueryPages<'_> {
    /// Records the job found.
    pub fn record_count(&self) -> Option<u64> {
        self.job.record_count()
    }

    /// The next CSV page (each with its header row), or `None` at the end.
    pub async fn next_page(&mut self, max_records: usize) -> Result<Option<String>, ConnectorError> {
        self.client.bulk_results_page(&mut self.job, max_records).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_without_salesforce_json_name_the_http_status() {
        let page = remote_error(StatusCode::PAYLOAD_TOO_LARGE, &Value::String("length limit exceeded".into()));
        assert_eq!(page.to_string(), "Salesforce error UNKNOWN: HTTP 413 Payload Too Large: length limit exceeded");
        let empty = remote_error(StatusCode::BAD_GATEWAY, &Value::Null);
        assert_eq!(empty.to_string(), "Salesforce error UNKNOWN: HTTP 502 Bad Gateway with no error body");
        let salesforce = remote_error(
            StatusCode::BAD_REQUEST,
            &json!([{"errorCode": "INVALID_FIELD", "message": "No such column 'Nope'"}]),
        );
        assert_eq!(salesforce.to_string(), "Salesforce error INVALID_FIELD: No such column 'Nope'");
    }
}
