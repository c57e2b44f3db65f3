//! Mutable state of a running Salesforce simulator: the org, users and
//! connected apps, sessions and tokens, query cursors, limits and faults.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::org::Org;

/// Settings of the simulator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimConfig {
    /// How long access tokens live.
    pub token_lifetime_secs: u64,
    /// Issue a new refresh token on every refresh (and revoke the old one).
    pub rotate_refresh_tokens: bool,
    /// Daily API request allowance (`DailyApiRequests.Max`).
    pub daily_api_requests: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self { token_lifetime_secs: 7200, rotate_refresh_tokens: false, daily_api_requests: 15_000 }
    }
}

/// A user that can log in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimUser {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Security token appended to the password by API clients.
    pub security_token: String,
    /// Id of the user's `User` record.
    pub user_id: String,
}

/// A connected app (OAuth client).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectedApp {
    /// Consumer key.
    pub client_id: String,
    /// Consumer secret.
    pub client_secret: String,
    /// RSA public key (PEM, `-----BEGIN PUBLIC KEY-----`) that verifies
    /// JWT bearer assertions; the JWT flow is refused without one.
    #[serde(default)]
    pub jwt_public_key_pem: Option<String>,
}

/// An access token's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user.
    pub user_id: String,
    /// Their username.
    pub username: String,
    /// When it stops working.
    pub expires_at: Instant,
}

/// What a refresh token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshGrant {
    /// The user.
    pub username: String,
    /// The app it was issued to.
    pub client_id: String,
}

/// An open query cursor (`nextRecordsUrl`).
#[derive(Debug, Clone)]
pub struct QueryCursor {
    /// Object queried.
    pub object: String,
    /// Selected columns.
    pub columns: Vec<usize>,
    /// Matching rows in result order.
    pub rows: Vec<usize>,
    /// Page size.
    pub batch_size: usize,
    /// API version of the first call.
    pub version: String,
    /// Whether this came from queryAll.
    pub query_all: bool,
    /// Last use, for expiry.
    pub touched: Instant,
}

/// How long an unused cursor lives.
pub const CURSOR_IDLE_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// A fault injection rule, set through the admin API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRule {
    /// Applies to request paths containing this text (empty: every path).
    #[serde(default)]
    pub path_contains: String,
    /// Probability (0..1) that a matching request fails.
    #[serde(default)]
    pub error_rate: f64,
    /// HTTP status of injected failures (503 by default).
    #[serde(default = "default_fault_status")]
    pub status: u16,
    /// Extra latency added to matching requests, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Fail with `REQUEST_LIMIT_EXCEEDED` once this many matching requests
    /// have been served.
    #[serde(default)]
    pub limit_after_calls: Option<u64>,
    /// Fail the first this many matching requests with `status` (a burst of
    /// errors), then serve normally.
    #[serde(default)]
    pub fail_first: Option<u64>,
    /// Matching requests seen so far.
    #[serde(default)]
    pub seen: u64,
}

fn default_fault_status() -> u16 {
    503
}

/// Everything behind the simulator's lock.
pub struct SimState {
    /// Objects and records.
    pub org: Org,
    /// Settings.
    pub config: SimConfig,
    /// Users by lower-case username.
    pub users: HashMap<String, SimUser>,
    /// Connected apps by client id.
    pub apps: HashMap<String, ConnectedApp>,
    /// Access tokens.
    pub sessions: HashMap<String, Session>,
    /// Refresh tokens.
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    /// Authorization codes waiting to be exchanged.
    pub auth_codes: HashMap<String, RefreshGrant>,
    /// Open query cursors.
    pub cursors: HashMap<String, QueryCursor>,
    /// REST calls served today.
    pub api_calls: u64,
    /// Fault injection rules.
    pub faults: Vec<FaultRule>,
    /// CometD clients by client id.
    pub cometd_clients: HashMap<String, super::streaming::CometdClient>,
    /// Bulk API 2.0 jobs by id.
    pub bulk_jobs: HashMap<String, super::bulk::BulkJob>,
    /// Whether the org changed since the last save.
    pub dirty: bool,
}

/// Demo login: username.
pub const DEMO_USERNAME: &str = "admin@sluice.dev";
/// Demo login: password.
pub const DEMO_PASSWORD: &str = "sluice-demo";
/// Demo login: security token.
pub const DEMO_SECURITY_TOKEN: &str = "SLUICETOKEN";
/// Demo connected app: consumer key.
pub const DEMO_CLIENT_ID: &str = "sluice-sim-client";
/// Demo connected app: consumer secret.
pub const DEMO_CLIENT_SECRET: &str = "sluice-sim-secret";

impl SimState {
    /// A state around `org` with the demo user and connected app.
    pub fn new(org: Org, config: SimConfig) -> Self {
        let admin = SimUser {
            username: DEMO_USERNAME.into(),
            password: DEMO_PASSWORD.into(),
            security_token: DEMO_SECURITY_TOKEN.into(),
            user_id: org.admin_user_id.clone(),
        };
        let app = ConnectedApp {
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: DEMO_CLIENT_SECRET.into(),
            jwt_public_key_pem: None,
        };
        Self {
            org,
            config,
            users: HashMap::from([(admin.username.to_ascii_lowercase(), admin)]),
            apps: HashMap::from([(app.client_id.clone(), app)]),
            sessions: HashMap::new(),
            refresh_tokens: HashMap::new(),
            auth_codes: HashMap::new(),
            cursors: HashMap::new(),
            api_calls: 0,
            faults: Vec::new(),
            bulk_jobs: HashMap::new(),
            cometd_clients: HashMap::new(),
            dirty: false,
        }
    }

    /// Issues an access token for a user.
    pub fn new_session(&mut self, user: &SimUser) -> String {
        let token = format!("{}!{}", &self.org.org_id[..15], random_token(96));
        self.add_session(token, user)
    }

    /// Makes `token` a live access token of `user` (tests choose the
    /// value, e.g. to look for it in logs later).
    pub fn add_session(&mut self, token: String, user: &SimUser) -> String {
        let session = Session {
            user_id: user.user_id.clone(),
            username: user.username.clone(),
            expires_at: Instant::now() + Duration::from_secs(self.config.token_lifetime_secs),
        };
        self.sessions.insert(token.clone(), session);
        token
    }

    /// Issues a refresh token for a user and app.
    pub fn new_refresh_token(&mut self, username: &str, client_id: &str) -> String {
        let token = format!("5Aep861{}", random_token(80));
        self.add_refresh_token(token, username, client_id)
    }

    /// Makes `token` a valid refresh token of a user and app.
    pub fn add_refresh_token(&mut self, token: String, username: &str, client_id: &str) -> String {
        self.refresh_tokens
            .insert(token.clone(), RefreshGrant { username: username.to_string(), client_id: client_id.to_string() });
        token
    }

    /// The session of a live access token.
    pub fn session(&self, token: &str) -> Option<&Session> {
        self.sessions.get(token).filter(|s| s.expires_at > Instant::now())
    }

    /// Drops cursors unused for longer than their lifetime.
    pub fn expire_cursors(&mut self) {
        self.cursors.retain(|_, c| c.touched.elapsed() < CURSOR_IDLE_LIFETIME);
    }
}

/// Random URL-safe characters.
pub fn random_token(length: usize) -> String {
    use rand::RngExt;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    let mut rng = rand::rng();
    (0..length).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}
