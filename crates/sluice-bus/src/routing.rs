//! Which targets an event goes to: each bus's enabled pattern rules and
//! archives, compiled once and cached. A change made through this server is seen at
//! once; one made through another server sharing the store within
//! [`ROUTE_TTL`] (EventBridge too applies rule changes eventually).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_model::events::pattern::EventPattern;
use sluice_store::{MetadataStore, PageRequest, TargetRow};

use crate::error::BusResult;

/// How long a bus's compiled rules are used before they are read again.
pub const ROUTE_TTL: Duration = Duration::from_secs(1);

/// A rule ready to match.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// Rule name.
    pub name: String,
    /// Rule ARN.
    pub arn: String,
    /// Its pattern.
    pub pattern: EventPattern,
    /// Its targets.
    pub targets: Vec<TargetRow>,
}

/// An archive ready to match.
#[derive(Debug, Clone)]
pub struct CompiledArchive {
    /// Archive name.
    pub name: String,
    /// Its pattern, with replayed events left out.
    pub pattern: EventPattern,
    /// How long it keeps events (ms); `None` for ever.
    pub retention_ms: Option<i64>,
}

/// Where a bus's events go.
#[derive(Debug, Clone, Default)]
pub struct BusRoutes {
    /// Enabled pattern rules with targets.
    pub rules: Vec<CompiledRule>,
    /// Enabled archives of the bus.
    pub archives: Vec<CompiledArchive>,
}

/// The compiled routes of each bus.
pub struct RouteCache {
    store: Arc<dyn MetadataStore>,
    buses: Mutex<HashMap<(String, String), (Instant, Arc<BusRoutes>)>>,
}

impl RouteCache {
    /// An empty cache over `store`.
    pub fn new(store: Arc<dyn MetadataStore>) -> Self {
        Self { store, buses: Mutex::new(HashMap::new()) }
    }

    /// Forgets a bus's rules (after a change to them).
    pub fn invalidate(&self, account_id: &str, bus: &str) {
        if let Ok(mut buses) = self.buses.lock() {
            buses.remove(&(account_id.to_string(), bus.to_string()));
        }
    }

    /// The enabled pattern rules of a bus that have targets, and its
    /// archives.
    pub async fn routes(&self, account_id: &str, bus: &str) -> BusResult<Arc<BusRoutes>> {
        let key = (account_id.to_string(), bus.to_string());
        if let Ok(buses) = self.buses.lock() {
            if let Some((loaded, rules)) = buses.get(&key) {
                if loaded.elapsed() < ROUTE_TTL {
                    return Ok(rules.clone());
                }
            }
        }
        let rules = Arc::new(BusRoutes {
            rules: self.load(account_id, bus).await?,
            archives: crate::archives::bus_archives(self.store.as_ref(), account_id, bus).await?,
        });
        if let Ok(mut buses) = self.buses.lock() {
            buses.insert(key, (Instant::now(), rules.clone()));
        }
        Ok(rules)
    }

    async fn load(&self, account_id: &str, bus: &str) -> BusResult<Vec<CompiledRule>> {
        let mut targets: HashMap<String, Vec<TargetRow>> = HashMap::new();
        for target in self.store.bus_targets(account_id, bus).await? {
            targets.entry(target.rule_name.clone()).or_default().push(target);
        }
        let mut compiled = Vec::new();
        let mut page = PageRequest::first(500);
        loop {
            let rules = self.store.list_rules(account_id, bus, "", &page).await?;
            for rule in rules.items {
                let enabled = rule.document.get("State").and_then(Value::as_str) == Some("ENABLED");
                let Some(pattern_text) = rule.document.get("EventPattern").and_then(Value::as_str) else { continue };
                let Some(rule_targets) = targets.remove(&rule.name) else { continue };
                if !enabled {
                    continue;
                }
                match EventPattern::parse(pattern_text) {
                    Ok(pattern) => {
                        compiled.push(CompiledRule { name: rule.name, arn: rule.arn, pattern, targets: rule_targets })
                    }
                    Err(error) => {
                        tracing::warn!(rule = %rule.arn, %error, "stored rule pattern does not parse; rule skipped")
                    }
                }
            }
            match rules.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => break,
            }
        }
        Ok(compiled)
    }
}
