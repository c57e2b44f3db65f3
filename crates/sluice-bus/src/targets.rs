//! Invoking one target with one event: an SQS queue, another bus, an API
//! destination over HTTP (with its connection's auth, a 5 s timeout, its
//! invocation rate), or an AppFlow flow.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value;
use sluice_model::events::input_transform::{select_path, InputTransformer, TransformContext};
use sluice_model::events::{ConnectionAuthorizationType, ConnectionHttpParameters, Target};
use sluice_store::DeliveryRow;

use crate::arn::TargetKind;
use crate::buses::EventBusService;
use crate::connections::OpenedConnection;
use crate::error::BusError;
use crate::policy::BusPolicy;
use crate::put_events::event_time;

/// How long an API destination may take to answer (EventBridge: 5 s).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an API destination and its opened connection are reused before
/// they are read (and the connection's secrets opened) again: a change to
/// either takes effect within this time.
pub const DESTINATION_TTL: Duration = Duration::from_secs(1);

/// An API destination ready to call.
struct ReadyDestination {
    destination: sluice_model::events::DescribeApiDestinationResponse,
    connection: OpenedConnection,
}

/// Why an attempt failed, with the code EventBridge puts in a dead-letter
/// message's `ERROR_CODE` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    /// `ERROR_CODE`.
    pub code: &'static str,
    /// `ERROR_MESSAGE`.
    pub message: String,
    /// Whether a later attempt may succeed.
    pub retryable: bool,
    /// How long the target asked to wait before the next attempt (an API
    /// destination's `Retry-After`); the longer of it and the backoff is
    /// waited.
    pub retry_after: Option<Duration>,
}

impl TargetError {
    /// An error with this `ERROR_CODE`, message and retry hint.
    pub fn new(code: &'static str, message: impl Into<String>, retryable: bool) -> Self {
        Self { code, message: message.into(), retryable, retry_after: None }
    }

    fn from_bus(error: BusError) -> Self {
        let retryable = error.is_retryable();
        let code = match &error {
            BusError::NotFound(_) | BusError::QueueDoesNotExist(_) => "RESOURCE_NOT_FOUND",
            BusError::AccessDenied(_) => "NO_PERMISSIONS",
            _ if retryable => "INTERNAL_ERROR",
            _ => "INVALID_PARAMETER",
        };
        Self::new(code, error.to_string(), retryable)
    }
}

/// Starts AppFlow flows for flow targets; the AppFlow service implements it.
#[async_trait::async_trait]
pub trait FlowStarter: Send + Sync {
    /// Starts an on-demand run of the flow; returns its execution id.
    async fn start_flow(&self, account_id: &str, flow_name: &str) -> Result<String, TargetError>;
}

/// The target as stored with a delivery: the `Target` and its rule.
pub struct DeliveryTarget {
    /// The EventBridge target.
    pub target: Target,
    /// The rule that matched.
    pub rule_arn: String,
    /// Its name.
    pub rule_name: String,
}

impl DeliveryTarget {
    /// Reads the target stored with a delivery.
    pub fn of(delivery: &DeliveryRow) -> Result<Self, TargetError> {
        use serde::Deserialize;
        let target = Target::deserialize(delivery.target.get("Target").unwrap_or(&Value::Null))
            .map_err(|e| TargetError::new("INTERNAL_ERROR", format!("stored target is corrupt: {e}"), false))?;
        let text = |key: &str| delivery.target.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(Self { target, rule_arn: text("RuleArn"), rule_name: text("RuleName") })
    }

    /// What the target receives for `event`: `Input`, the part `InputPath`
    /// selects, the `InputTransformer`'s rendering, or the whole event.
    pub fn input(&self, event: &Value, ingested_at_ms: i64) -> Result<String, TargetError> {
        if let Some(input) = &self.target.input {
            return Ok(input.clone());
        }
        if let Some(path) = &self.target.input_path {
            let selected =
                select_path(event, path).map_err(|e| TargetError::new("INVALID_PARAMETER", e.to_string(), false))?;
            return Ok(selected.unwrap_or(Value::Null).to_string());
        }
        if let Some(transformer) = &self.target.input_transformer {
            let transformer = InputTransformer::new(
                &transformer.input_paths_map.clone().unwrap_or_default(),
                &transformer.input_template,
            )
            .map_err(|e| TargetError::new("INVALID_PARAMETER", e.to_string(), false))?;
            let context = TransformContext {
                rule_arn: self.rule_arn.clone(),
                rule_name: self.rule_name.clone(),
                ingestion_time: event_time(ingested_at_ms),
            };
            return Ok(transformer.render(event, &context));
        }
        Ok(event.to_string())
    }
}

/// Invokes targets; one per deliverer, cheap to clone.
#[derive(Clone)]
pub struct Targets {
    bus: EventBusService,
    http: reqwest::Client,
    flows: Option<Arc<dyn FlowStarter>>,
    limiters: Arc<Mutex<HashMap<String, RateLimiter>>>,
    tokens: Arc<Mutex<HashMap<String, (String, Instant)>>>,
    destinations: Arc<Mutex<HashMap<(String, String), Arc<DestinationSlot>>>>,
}

/// One API destination's cache entry; its lock makes one caller load it
/// while the others wait for that load (no stampede on the store).
type DestinationSlot = tokio::sync::Mutex<Option<(Instant, Arc<ReadyDestination>)>>;

impl Targets {
    /// Targets of `bus`'s rules; flow targets need `flows`.
    pub fn new(bus: EventBusService, flows: Option<Arc<dyn FlowStarter>>) -> Self {
        let http = match bus.guard().http_client(HTTP_TIMEOUT) {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot build the API destinations' HTTP client; using defaults");
                reqwest::Client::new()
            }
        };
        Self {
            bus,
            http,
            flows,
            limiters: Arc::new(Mutex::new(HashMap::new())),
            tokens: Arc::new(Mutex::new(HashMap::new())),
            destinations: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Delivers `delivery`'s event to its target once.
    pub async fn invoke(&self, delivery: &DeliveryRow) -> Result<(), TargetError> {
        let target = DeliveryTarget::of(delivery)?;
        let kind =
            TargetKind::parse(&target.target.arn).map_err(|e| TargetError::new("INVALID_PARAMETER", e, false))?;
        match kind {
            TargetKind::Queue { .. } => {
                let body = target.input(&delivery.event, delivery.ingested_at_ms)?;
                self.bus
                    .queues()
                    .send_to_arn(&target.target.arn, body, BTreeMap::new())
                    .await
                    .map(|_| ())
                    .map_err(TargetError::from_bus)
            }
            TargetKind::Bus { account_id, name } => self.forward(delivery, &account_id, &name).await,
            TargetKind::ApiDestination { account_id, name } => {
                self.call_api_destination(&target, delivery, &account_id, &name).await
            }
            TargetKind::Flow { account_id, name } => {
                if account_id != delivery.account_id {
                    return Err(TargetError::new(
                        "NO_PERMISSIONS",
                        format!(
                            "a rule of account {} cannot start a flow of account {account_id}",
                            delivery.account_id
                        ),
                        false,
                    ));
                }
                let flows = self
                    .flows
                    .as_ref()
                    .ok_or_else(|| TargetError::new("INTERNAL_ERROR", "this server runs no AppFlow service", true))?;
                flows.start_flow(&account_id, &name).await.map(|execution_id| {
                    tracing::info!(flow = %name, %execution_id, rule = %target.rule_arn, "rule started a flow");
                })
            }
        }
    }

    /// Puts the event on another bus (same account, or one whose policy
    /// lets the rule's account put events), keeping its id and fields.
    async fn forward(&self, delivery: &DeliveryRow, account_id: &str, name: &str) -> Result<(), TargetError> {
        let bus =
            self.bus.store().get_bus(account_id, name).await.map_err(|e| TargetError::from_bus(e.into()))?.ok_or_else(
                || TargetError::new("RESOURCE_NOT_FOUND", format!("Event bus {name} does not exist."), false),
            )?;
        if account_id != delivery.account_id
            && !BusPolicy::of(&bus.document).allows(&delivery.account_id, "events:PutEvents", &bus.arn)
        {
            return Err(TargetError::new(
                "NO_PERMISSIONS",
                format!("account {} is not authorized to put events on {}", delivery.account_id, bus.arn),
                false,
            ));
        }
        let rows = self.bus.route(account_id, name, &delivery.event).await.map_err(TargetError::from_bus)?;
        self.bus.commit(rows).await.map_err(TargetError::from_bus)
    }

    async fn call_api_destination(
        &self,
        target: &DeliveryTarget,
        delivery: &DeliveryRow,
        account_id: &str,
        name: &str,
    ) -> Result<(), TargetError> {
        let ready = self.destination(account_id, name).await?;
        let (destination, connection) = (&ready.destination, &ready.connection);
        let connection_arn = destination.connection_arn.clone().unwrap_or_default();
        let rate = destination.invocation_rate_limit_per_second.unwrap_or(300).max(1) as u32;
        self.wait_for_rate(&destination.api_destination_arn.clone().unwrap_or_default(), rate).await;

        let mut endpoint = destination.invocation_endpoint.clone().unwrap_or_default();
        let http = target.target.http_parameters.clone().unwrap_or_default();
        for value in http.path_parameter_values.iter().flatten() {
            endpoint = endpoint.replacen('*', value, 1);
        }
        // Literal addresses are judged here; names when the client resolves
        // them (the guard's resolver), for every new connection.
        self.bus
            .guard()
            .check_url_syntax(&endpoint)
            .map_err(|e| TargetError::new("NO_PERMISSIONS", e.to_string(), false))?;
        let method = destination.http_method.as_ref().map(|m| m.as_str()).unwrap_or("POST");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let body = target.input(&delivery.event, delivery.ingested_at_ms)?;
        let mut request = self
            .http
            .request(method, &endpoint)
            .header("content-type", "application/json; charset=utf-8")
            .header("user-agent", "Amazon/EventBridge/ApiDestinations")
            .header("range", "bytes=0-1048575");
        let mut query: Vec<(String, String)> = http.query_string_parameters.unwrap_or_default().into_iter().collect();
        for (key, value) in http.header_parameters.unwrap_or_default() {
            request = request.header(key, value);
        }
        let invocation =
            connection.describe.auth_parameters.as_ref().and_then(|a| a.invocation_http_parameters.clone());
        let (headers, more_query) = connection_parameters(invocation.as_ref(), connection, "");
        for (key, value) in headers {
            request = request.header(key, value);
        }
        query.extend(more_query);
        if !query.is_empty() {
            request = request.query(&query);
        }
        request = self.authorize(request, connection).await?;
        let response = request.body(body).send().await.map_err(|e| {
            let message = if e.is_timeout() {
                format!("the API destination did not answer within {} s", HTTP_TIMEOUT.as_secs())
            } else {
                format!("the API destination could not be reached: {}", error_chain(&e))
            };
            let refused = error_chain(&e).contains("--allow-private-endpoints");
            TargetError::new(if refused { "NO_PERMISSIONS" } else { "SDK_CLIENT_ERROR" }, message, !refused)
        })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        // Retry-After in seconds; EventBridge stops retrying on a negative one.
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        let oauth = connection.describe.authorization_type == Some(ConnectionAuthorizationType::OauthClientCredentials);
        if oauth && matches!(status, 401 | 407) {
            // EventBridge refreshes OAuth tokens on 401 and 407 and tries again.
            self.forget_token(&connection_arn);
        }
        // EventBridge retries 429 and 5xx (and, with OAuth, 401/407 after a
        // token refresh); other answers are final.
        let retryable = (status == 429 || status >= 500 || (oauth && matches!(status, 401 | 407)))
            && retry_after.is_none_or(|seconds| seconds >= 0);
        let code = if status == 429 {
            "THROTTLING"
        } else if retryable {
            "RETRYABLE_HTTP_ERROR"
        } else {
            "SDK_CLIENT_ERROR"
        };
        let mut error = TargetError::new(code, format!("the API destination answered HTTP {status}"), retryable);
        error.retry_after = retry_after.filter(|s| *s > 0).map(|s| Duration::from_secs(s.min(86_400) as u64));
        Err(error)
    }

    /// The API destination and its opened connection, reused for
    /// [`DESTINATION_TTL`].
    async fn destination(&self, account_id: &str, name: &str) -> Result<Arc<ReadyDestination>, TargetError> {
        let key = (account_id.to_string(), name.to_string());
        let slot = self.destinations.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default().clone();
        let mut cached = slot.lock().await;
        if let Some((at, ready)) = cached.as_ref() {
            if at.elapsed() < DESTINATION_TTL {
                return Ok(ready.clone());
            }
        }
        let destination = self.bus.describe_api_destination(account_id, name).await.map_err(TargetError::from_bus)?;
        let connection_arn = destination.connection_arn.clone().unwrap_or_default();
        let connection = self.bus.open_connection(&connection_arn).await.map_err(TargetError::from_bus)?;
        let ready = Arc::new(ReadyDestination { destination, connection });
        *cached = Some((Instant::now(), ready.clone()));
        Ok(ready)
    }

    async fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        connection: &OpenedConnection,
    ) -> Result<reqwest::RequestBuilder, TargetError> {
        let auth = connection.describe.auth_parameters.clone().unwrap_or_default();
        Ok(match connection.describe.authorization_type {
            Some(ConnectionAuthorizationType::ApiKey) => {
                let name = auth.api_key_auth_parameters.and_then(|k| k.api_key_name).unwrap_or_default();
                let value =
                    connection.secrets.api_key_value.as_ref().map(|v| v.expose().to_string()).unwrap_or_default();
                request.header(name, value)
            }
            Some(ConnectionAuthorizationType::Basic) => {
                let user = auth.basic_auth_parameters.and_then(|b| b.username).unwrap_or_default();
                let password = connection.secrets.password.as_ref().map(|p| p.expose()).unwrap_or_default();
                request.header("authorization", format!("Basic {}", B64.encode(format!("{user}:{password}"))))
            }
            Some(ConnectionAuthorizationType::OauthClientCredentials) => {
                let token = self.oauth_token(connection).await?;
                request.header("authorization", format!("Bearer {token}"))
            }
            None => request,
        })
    }

    fn forget_token(&self, connection_arn: &str) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(connection_arn);
        }
    }

    /// An OAuth client-credentials token, cached until it expires.
    async fn oauth_token(&self, connection: &OpenedConnection) -> Result<String, TargetError> {
        let arn = connection.describe.connection_arn.clone().unwrap_or_default();
        if let Ok(tokens) = self.tokens.lock() {
            if let Some((token, until)) = tokens.get(&arn) {
                if Instant::now() < *until {
                    return Ok(token.clone());
                }
            }
        }
        let oauth =
            connection.describe.auth_parameters.as_ref().and_then(|a| a.o_auth_parameters.clone()).ok_or_else(
                || TargetError::new("INVALID_PARAMETER", "the connection has no OAuth parameters", false),
            )?;
        let endpoint = oauth.authorization_endpoint.clone().unwrap_or_default();
        // Literal addresses are judged here; names when the client resolves
        // them (the guard's resolver), for every new connection.
        self.bus
            .guard()
            .check_url_syntax(&endpoint)
            .map_err(|e| TargetError::new("NO_PERMISSIONS", e.to_string(), false))?;
        let client_id = oauth.client_parameters.as_ref().and_then(|c| c.client_id.clone()).unwrap_or_default();
        let secret = connection.secrets.client_secret.as_ref().map(|s| s.expose().to_string()).unwrap_or_default();
        let (headers, query) = connection_parameters(oauth.o_auth_http_parameters.as_ref(), connection, "oauth-");
        let method = oauth.http_method.as_ref().map(|m| m.as_str()).unwrap_or("POST");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut form: Vec<(String, String)> = vec![("grant_type".into(), "client_credentials".into())];
        for body in oauth.o_auth_http_parameters.iter().flat_map(|p| p.body_parameters.iter().flatten()) {
            let key = body.key.clone().unwrap_or_default();
            let value = body
                .value
                .as_ref()
                .map(|v| v.expose().to_string())
                .or_else(|| {
                    connection.secrets.parameters.get(&format!("oauth-body:{key}")).map(|v| v.expose().to_string())
                })
                .unwrap_or_default();
            form.push((key, value));
        }
        let mut request = self
            .http
            .request(method, &endpoint)
            .header("authorization", format!("Basic {}", B64.encode(format!("{client_id}:{secret}"))));
        for (key, value) in headers {
            request = request.header(key, value);
        }
        if !query.is_empty() {
            request = request.query(&query);
        }
        let encoded: String =
            form.iter().map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v))).collect::<Vec<_>>().join("&");
        let response =
            request.header("content-type", "application/x-www-form-urlencoded").body(encoded).send().await.map_err(
                |e| {
                    TargetError::new(
                        "SDK_CLIENT_ERROR",
                        format!("the OAuth endpoint could not be reached: {}", error_chain(&e)),
                        true,
                    )
                },
            )?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(TargetError::new(
                "NO_PERMISSIONS",
                format!("the OAuth endpoint refused the client credentials (HTTP {status})"),
                status >= 500 || status == 429,
            ));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|_| TargetError::new("SDK_CLIENT_ERROR", "the OAuth endpoint's answer is not JSON", true))?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                TargetError::new("SDK_CLIENT_ERROR", "the OAuth endpoint's answer has no access_token", true)
            })?
            .to_string();
        let lifetime = body.get("expires_in").and_then(Value::as_u64).unwrap_or(3600).saturating_sub(30).max(1);
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(arn, (token.clone(), Instant::now() + Duration::from_secs(lifetime)));
        }
        Ok(token)
    }

    /// Waits for a slot of an API destination's invocation rate (per server).
    async fn wait_for_rate(&self, destination_arn: &str, per_second: u32) {
        loop {
            let wait = {
                let mut limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
                let limiter =
                    limiters.entry(destination_arn.to_string()).or_insert_with(|| RateLimiter::new(per_second));
                limiter.set_rate(per_second);
                limiter.take()
            };
            match wait {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }
}

/// Headers and query parameters of a connection's parameters (secret
/// values from the sealed half).
fn connection_parameters(
    parameters: Option<&ConnectionHttpParameters>,
    connection: &OpenedConnection,
    prefix: &str,
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let secret = |kind: &str, key: &str| {
        connection.secrets.parameters.get(&format!("{prefix}{kind}:{key}")).map(|v| v.expose().to_string())
    };
    let mut headers = Vec::new();
    let mut query = Vec::new();
    if let Some(p) = parameters {
        for h in p.header_parameters.iter().flatten() {
            let key = h.key.clone().unwrap_or_default();
            let value =
                h.value.as_ref().map(|v| v.expose().to_string()).or_else(|| secret("header", &key)).unwrap_or_default();
            headers.push((key, value));
        }
        for q in p.query_string_parameters.iter().flatten() {
            let key = q.key.clone().unwrap_or_default();
            let value =
                q.value.as_ref().map(|v| v.expose().to_string()).or_else(|| secret("query", &key)).unwrap_or_default();
            query.push((key, value));
        }
    }
    (headers, query)
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// A token bucket: `rate` calls a second, bursts up to `rate`.
struct RateLimiter {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    fn new(rate: u32) -> Self {
        Self { rate: f64::from(rate), tokens: f64::from(rate), at: Instant::now() }
    }

    fn set_rate(&mut self, rate: u32) {
        self.rate = f64::from(rate);
    }

    /// Takes a token, or says how long to wait for one.
    fn take(&mut self) -> Option<Duration> {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.rate);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// Why delivery stopped, for `EXHAUSTED_RETRY_CONDITION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// The target's answer is final (not worth retrying).
    NotRetryable,
    /// `MaximumRetryAttempts` reached.
    MaximumRetryAttempts,
    /// `MaximumEventAgeInSeconds` reached.
    MaximumEventAgeInSeconds,
}

/// The message attributes EventBridge sets on a dead-letter message.
pub fn dead_letter_attributes(
    rule_arn: &str,
    target_arn: &str,
    error: &TargetError,
    retries: i64,
    exhausted: Exhausted,
) -> BTreeMap<String, sluice_model::sqs::MessageAttributeValue> {
    let string = |value: &str| sluice_model::sqs::MessageAttributeValue {
        string_value: Some(value.to_string()),
        binary_value: None,
        string_list_values: None,
        binary_list_values: None,
        data_type: "String".into(),
    };
    let mut attributes = BTreeMap::new();
    attributes.insert("RULE_ARN".to_string(), string(rule_arn));
    attributes.insert("TARGET_ARN".to_string(), string(target_arn));
    attributes.insert("ERROR_CODE".to_string(), string(error.code));
    attributes.insert("ERROR_MESSAGE".to_string(), string(&error.message));
    attributes.insert("RETRY_ATTEMPTS".to_string(), string(&retries.to_string()));
    let condition = match exhausted {
        Exhausted::NotRetryable => "NotRetryable",
        Exhausted::MaximumRetryAttempts => "MaximumRetryAttempts",
        Exhausted::MaximumEventAgeInSeconds => "MaximumEventAgeInSeconds",
    };
    attributes.insert("EXHAUSTED_RETRY_CONDITION".to_string(), string(condition));
    attributes
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rate_limiter_spaces_calls() {
        let mut limiter = RateLimiter::new(2);
        assert!(limiter.take().is_none());
        assert!(limiter.take().is_none());
        let wait = limiter.take().expect("third call in the same instant waits");
        assert!(wait > Duration::from_millis(300) && wait <= Duration::from_millis(500), "{wait:?}");
    }

    #[test]
    fn inputs_follow_the_target() {
        let event = json!({"id": "e1", "detail": {"a": {"b": 7}}});
        let stored = |target: Value| DeliveryRow {
            delivery_id: "d".into(),
            account_id: "1".into(),
            bus_name: "default".into(),
            rule_name: "r".into(),
            target_id: "t".into(),
            event: event.clone(),
            target: json!({"Target": target, "RuleArn": "arn:r", "RuleName": "r"}),
            ingested_at_ms: 0,
            attempts: 0,
            next_attempt_ms: 0,
            lease_owner: None,
            lease_expires_at_ms: None,
            last_error: None,
        };
        let input = |target: Value| DeliveryTarget::of(&stored(target)).unwrap().input(&event, 0).unwrap();
        assert_eq!(input(json!({"Id": "t", "Arn": "arn:x"})), event.to_string());
        assert_eq!(input(json!({"Id": "t", "Arn": "arn:x", "Input": "{\"k\":1}"})), "{\"k\":1}");
        assert_eq!(input(json!({"Id": "t", "Arn": "arn:x", "InputPath": "$.detail.a"})), "{\"b\":7}");
        let rendered = input(json!({"Id": "t", "Arn": "arn:x", "InputTransformer": {
            "InputPathsMap": {"b": "$.detail.a.b"}, "InputTemplate": "{\"value\": <b>, \"rule\": \"<aws.events.rule-name>\"}"}}));
        assert_eq!(serde_json::from_str::<Value>(&rendered).unwrap(), json!({"value": 7, "rule": "r"}));
    }
}
