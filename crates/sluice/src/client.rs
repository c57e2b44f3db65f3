//! A small signed client for Sluice's AppFlow and EventBridge APIs, used by
//! the CLI.

use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use sluice_api::AccessKey;

/// Talks to a running Sluice server with SigV4-signed requests.
pub struct ApiClient {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    region: String,
    key: AccessKey,
}

/// An error the server returned, in AWS terms.
#[derive(Debug)]
pub struct ServiceError {
    /// HTTP status.
    pub status: u16,
    /// AWS error code (`x-amzn-ErrorType`).
    pub code: String,
    /// Message.
    pub message: String,
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (HTTP {}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ServiceError {}

impl ApiClient {
    /// A client for `endpoint` (e.g. `http://127.0.0.1:7878`).
    pub fn new(endpoint: &str, region: &str, key: AccessKey) -> Result<Self> {
        let endpoint = reqwest::Url::parse(endpoint).with_context(|| format!("invalid endpoint '{endpoint}'"))?;
        sluice_connectors::install_tls_provider();
        Ok(Self { http: reqwest::Client::new(), endpoint, region: region.to_string(), key })
    }

    /// POSTs `body` to an AppFlow operation path such as `/list-flows`.
    pub async fn call(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(path, "appflow", None, "application/json", body).await
    }

    /// Calls an EventBridge operation (JSON 1.1 protocol), e.g. `PutEvents`,
    /// or one of Sluice's own bus operations (`SluiceRedriveDeadLetters`).
    pub async fn events(&self, operation: &str, body: &Value) -> Result<Value> {
        let target = format!("AWSEvents.{operation}");
        self.send("/", "events", Some(&target), "application/x-amz-json-1.1", body).await
    }

    async fn send(
        &self,
        path: &str,
        service: &str,
        target: Option<&str>,
        content_type: &str,
        body: &Value,
    ) -> Result<Value> {
        let url = self.endpoint.join(path).context("invalid operation path")?;
        let body = serde_json::to_vec(body)?;
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_string(),
        };
        let mut headers = vec![("host".to_string(), host), ("content-type".to_string(), content_type.to_string())];
        if let Some(target) = target {
            headers.push(("x-amz-target".to_string(), target.to_string()));
        }
        let signed = sluice_api::sigv4::sign(
            "POST",
            url.path(),
            url.query().unwrap_or(""),
            &headers,
            &body,
            &self.key.access_key_id,
            self.key.secret_access_key.expose(),
            &self.region,
            service,
            time::OffsetDateTime::now_utc(),
        );
        let mut request = self.http.post(url.clone()).header("content-type", content_type).body(body);
        if let Some(target) = target {
            request = request.header("x-amz-target", target);
        }
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let response = request.send().await.with_context(|| format!("cannot reach Sluice at {}", self.endpoint))?;
        let status = response.status().as_u16();
        let code = response
            .headers()
            .get("x-amzn-ErrorType")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_string());
        let text = response.text().await.context("cannot read the response")?;
        let value: Value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        if let Some(code) = code.filter(|_| status >= 400) {
            let message = value.get("message").and_then(Value::as_str).unwrap_or("").to_string();
            return Err(anyhow!(ServiceError { status, code, message }));
        }
        if status >= 400 {
            return Err(anyhow!("HTTP {status}: {value}"));
        }
        Ok(value)
    }
}
