//! Mutable state of a running Marketo simulator: the lead database, the
//! API client (custom service) and its access tokens, export jobs, rate
//! limit and quota counters, and statistics for the admin API.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::db::LeadDatabase;
use super::export::ExportJobs;
use super::time_format::format_date;

/// Demo instance: Munchkin id (only names the host clients build).
pub const DEMO_MUNCHKIN_ID: &str = "123-SLC-456";
/// Demo custom service: client id.
pub const DEMO_CLIENT_ID: &str = "sluice-marketo-client";
/// Demo custom service: client secret.
pub const DEMO_CLIENT_SECRET: &str = "sluice-marketo-secret";
/// Demo custom service: its API-only user (the token's `scope`).
pub const DEMO_API_USER: &str = "api-user@sluice.dev";

/// Settings of the simulator (all changeable through `/__sim/config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Lifetime of a new access token, in seconds.
    pub token_lifetime_secs: u64,
    /// Calls allowed per rate-limit window (Marketo: 100).
    pub rate_limit_calls: u64,
    /// Length of the rate-limit window in seconds (Marketo: 20).
    pub rate_limit_window_secs: u64,
    /// Calls allowed per day (Marketo's default subscription: 50,000).
    pub daily_quota: u64,
    /// Calls allowed in flight at once (Marketo: 10).
    pub max_concurrent_calls: u64,
    /// Bytes of export files allowed per day (Marketo: 500 MB).
    pub export_daily_quota_bytes: u64,
    /// Shortest time an export job stays in a state before a status poll
    /// moves it on, in milliseconds.
    pub export_min_state_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            token_lifetime_secs: 3600,
            rate_limit_calls: 100,
            rate_limit_window_secs: 20,
            daily_quota: 50_000,
            max_concurrent_calls: 10,
            export_daily_quota_bytes: 500 * 1024 * 1024,
            export_min_state_ms: 0,
        }
    }
}

/// A custom service's credentials.
#[derive(Debug, Clone)]
pub struct ApiClient {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// Email of its API-only user.
    pub api_user: String,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The client it was issued to.
    pub client_id: String,
    /// When it stops working.
    pub expires_at: Instant,
}

/// Call counters behind the rate limit, daily quota and usage statistics.
#[derive(Debug, Default)]
pub struct Usage {
    /// Admission times of calls inside the current window.
    pub window: VecDeque<Instant>,
    /// Day the daily counter belongs to (`YYYY-MM-DD`, Marketo's US Central day).
    pub day: String,
    /// Calls counted today.
    pub day_calls: u64,
    /// Calls in flight.
    pub in_flight: u64,
    /// Access tokens issued since start.
    pub tokens_issued: u64,
    /// Error responses served since start, by code.
    pub errors: BTreeMap<String, u64>,
}

/// Marketo's quota day: midnight US Central Standard Time (UTC-6).
pub fn quota_day(now_secs: i64) -> String {
    format_date(now_secs - 6 * 3600)
}

impl Usage {
    /// Drops window entries older than `window`, and resets the daily count
    /// when the day changed.
    pub fn roll(&mut self, window: Duration, now_secs: i64) {
        while self.window.front().is_some_and(|t| t.elapsed() >= window) {
            self.window.pop_front();
        }
        let day = quota_day(now_secs);
        if day != self.day {
            self.day = day;
            self.day_calls = 0;
        }
    }
}

/// Everything behind the simulator's lock.
pub struct SimState {
    /// Leads and activities (what the state file holds).
    pub db: LeadDatabase,
    /// Settings.
    pub config: SimConfig,
    /// Custom services by client id.
    pub clients: HashMap<String, ApiClient>,
    /// Access tokens, live and expired (so expiry can be told from garbage).
    pub tokens: HashMap<String, AccessToken>,
    /// Bulk export jobs.
    pub exports: ExportJobs,
    /// Call counters.
    pub usage: Usage,
    /// Whether the database changed since the last save.
    pub dirty: bool,
}

impl SimState {
    /// A state around `db` with the demo custom service.
    pub fn new(db: LeadDatabase, config: SimConfig) -> Self {
        let client = ApiClient {
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: DEMO_CLIENT_SECRET.into(),
            api_user: DEMO_API_USER.into(),
        };
        Self {
            db,
            config,
            clients: HashMap::from([(client.client_id.clone(), client)]),
            tokens: HashMap::new(),
            exports: ExportJobs::default(),
            usage: Usage::default(),
            dirty: false,
        }
    }

    /// The client's live token and its remaining lifetime, or a new token.
    /// Marketo hands back the same token until it expires.
    pub fn token_for(&mut self, client_id: &str) -> (String, Duration) {
        let now = Instant::now();
        let live = self
            .tokens
            .iter()
            .filter(|(_, t)| t.client_id == client_id && t.expires_at > now)
            .max_by_key(|(_, t)| t.expires_at)
            .map(|(token, t)| (token.clone(), t.expires_at - now));
        if let Some(live) = live {
            return live;
        }
        let lifetime = Duration::from_secs(self.config.token_lifetime_secs);
        let token = format!("{}:sim", uuid::Uuid::new_v4());
        self.tokens.insert(token.clone(), AccessToken { client_id: client_id.to_string(), expires_at: now + lifetime });
        self.usage.tokens_issued += 1;
        (token, lifetime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_token_comes_back_until_it_expires() {
        let mut state = SimState::new(LeadDatabase::new(), SimConfig::default());
        let (first, lifetime) = state.token_for(DEMO_CLIENT_ID);
        assert_eq!(lifetime, Duration::from_secs(3600));
        let (again, remaining) = state.token_for(DEMO_CLIENT_ID);
        assert_eq!(again, first);
        assert!(remaining <= lifetime);
        if let Some(token) = state.tokens.get_mut(&first) {
            token.expires_at = Instant::now();
        }
        let (renewed, _) = state.token_for(DEMO_CLIENT_ID);
        assert_ne!(renewed, first);
        assert_eq!(state.usage.tokens_issued, 2);
        assert!(renewed.ends_with(":sim"));
    }

    #[test]
    fn quota_day_follows_us_central_midnight() {
        // 2024-01-31T05:59:59Z is still January 30th in Chicago.
        assert_eq!(quota_day(1_706_680_799), "2024-01-30");
        assert_eq!(quota_day(1_706_680_800), "2024-01-31");
    }
}
