//! The event bus's store: buses, rules, targets, deliveries and the bus's
//! other resources, per account. Documents are JSON the store does not
//! interpret; the bus service gives them meaning.

use serde_json::Value;

use crate::archives::ArchivedEventRow;
use crate::{Page, PageRequest, StoreResult};

/// A stored event bus.
#[derive(Debug, Clone, PartialEq)]
pub struct BusRow {
    /// Owning account.
    pub account_id: String,
    /// Bus name (`default` exists in every account).
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// Description, resource policy and the like, as JSON.
    pub document: Value,
    /// Creation time (ms).
    pub created_at_ms: i64,
    /// Last change (ms).
    pub updated_at_ms: i64,
}

/// A stored rule of a bus.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRow {
    /// Owning account.
    pub account_id: String,
    /// The bus it belongs to.
    pub bus_name: String,
    /// Rule name, unique on its bus.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// Pattern, schedule, state, description... as JSON.
    pub document: Value,
    /// Creation time (ms).
    pub created_at_ms: i64,
    /// Last change (ms).
    pub updated_at_ms: i64,
    /// A scheduled rule's next occurrence (ms); `None` for pattern rules
    /// and disabled ones.
    pub next_fire_ms: Option<i64>,
}

/// A stored target of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    /// Owning account.
    pub account_id: String,
    /// The rule's bus.
    pub bus_name: String,
    /// The rule.
    pub rule_name: String,
    /// Target id, unique within the rule.
    pub target_id: String,
    /// The target's ARN.
    pub arn: String,
    /// The EventBridge `Target` as JSON.
    pub document: Value,
}

/// An event on its way to one target.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    /// Unique id.
    pub delivery_id: String,
    /// Account of the rule.
    pub account_id: String,
    /// Bus of the rule.
    pub bus_name: String,
    /// The rule that matched.
    pub rule_name: String,
    /// The target it goes to.
    pub target_id: String,
    /// The event envelope as JSON.
    pub event: Value,
    /// The target (and what delivering it needs) as it was when the event
    /// matched.
    pub target: Value,
    /// When the bus accepted the event (ms).
    pub ingested_at_ms: i64,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (ms).
    pub next_attempt_ms: i64,
    /// The server holding it, if any.
    pub lease_owner: Option<String>,
    /// Until when (ms).
    pub lease_expires_at_ms: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// Another resource of the bus service (a connection, an API destination,
/// an archive, a replay), by kind and name.
#[derive(Debug, Clone, PartialEq)]
pub struct BusResourceRow {
    /// Owning account.
    pub account_id: String,
    /// `connection`, `api-destination`, `archive`, `replay`.
    pub kind: String,
    /// Name, unique per kind.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The resource as JSON.
    pub document: Value,
    /// A sealed secret (vault text form), e.g. a connection's credentials.
    pub sealed: Option<String>,
    /// Creation time (ms).
    pub created_at_ms: i64,
    /// Last change (ms).
    pub updated_at_ms: i64,
}

/// The store of the event bus.
#[async_trait::async_trait]
pub trait BusStore: Send + Sync {
    /// Stores a new bus; `AlreadyExists` if the name is taken.
    async fn create_bus(&self, bus: &BusRow) -> StoreResult<()>;
    /// A bus.
    async fn get_bus(&self, account_id: &str, name: &str) -> StoreResult<Option<BusRow>>;
    /// Buses whose names start with `prefix`, by name, a page at a time.
    async fn list_buses(&self, account_id: &str, prefix: &str, page: &PageRequest) -> StoreResult<Page<BusRow>>;
    /// Replaces a bus's document; `NotFound` if missing.
    async fn update_bus(&self, bus: &BusRow) -> StoreResult<()>;
    /// Deletes a bus with its rules, targets and pending deliveries.
    async fn delete_bus(&self, account_id: &str, name: &str) -> StoreResult<()>;

    /// Creates or replaces a rule; `NotFound` if its bus does not exist.
    async fn put_rule(&self, rule: &RuleRow) -> StoreResult<()>;
    /// A rule.
    async fn get_rule(&self, account_id: &str, bus_name: &str, name: &str) -> StoreResult<Option<RuleRow>>;
    /// Rules of a bus whose names start with `prefix`, a page at a time.
    async fn list_rules(
        &self,
        account_id: &str,
        bus_name: &str,
        prefix: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<RuleRow>>;
    /// Scheduled rules whose next occurrence is due at `now_ms`, oldest first.
    async fn due_rule_schedules(&self, now_ms: i64, limit: usize) -> StoreResult<Vec<RuleRow>>;
    /// Claims a scheduled rule's occurrence due at `due_ms`: moves its next
    /// occurrence to `next_fire_ms` only if it is still `due_ms`. False when
    /// another server claimed it first (or the rule changed).
    async fn claim_rule_schedule(
        &self,
        account_id: &str,
        bus_name: &str,
        name: &str,
        due_ms: i64,
        next_fire_ms: Option<i64>,
    ) -> StoreResult<bool>;
    /// Deletes a rule and its targets (nothing if missing).
    async fn delete_rule(&self, account_id: &str, bus_name: &str, name: &str) -> StoreResult<()>;

    /// Creates or replaces targets of a rule.
    async fn put_targets(&self, targets: &[TargetRow]) -> StoreResult<()>;
    /// Removes targets of a rule; returns the ids that existed.
    async fn remove_targets(
        &self,
        account_id: &str,
        bus_name: &str,
        rule_name: &str,
        ids: &[String],
    ) -> StoreResult<Vec<String>>;
    /// Targets of a rule, by id.
    async fn list_targets(&self, account_id: &str, bus_name: &str, rule_name: &str) -> StoreResult<Vec<TargetRow>>;
    /// Every target of a bus's rules (for routing), by rule and id.
    async fn bus_targets(&self, account_id: &str, bus_name: &str) -> StoreResult<Vec<TargetRow>>;
    /// Names of a bus's rules with a target of this ARN, a page at a time.
    async fn rules_by_target(
        &self,
        account_id: &str,
        bus_name: &str,
        arn: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<String>>;

    /// Stores deliveries in one transaction (all or none).
    async fn insert_deliveries(&self, deliveries: &[DeliveryRow]) -> StoreResult<()> {
        self.insert_routed(deliveries, &[]).await
    }
    /// Stores what routing made of events, the deliveries and the archives'
    /// copies, in one transaction (all or none).
    async fn insert_routed(&self, deliveries: &[DeliveryRow], archived: &[ArchivedEventRow]) -> StoreResult<()>;
    /// Claims up to `limit` deliveries that are due and held by no live
    /// lease, for `owner` until `now_ms + lease_ms`. Several servers never
    /// get the same delivery while its lease is live.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryRow>>;
    /// Removes delivered (or given up) deliveries held by `owner`; returns
    /// how many it removed.
    async fn finish_deliveries(&self, owner: &str, ids: &[String]) -> StoreResult<u64>;
    /// After a failed attempt: counts it, sets when the next is due and why
    /// it failed, and gives the lease back. False when `owner` no longer
    /// holds the delivery.
    async fn retry_delivery(
        &self,
        delivery_id: &str,
        owner: &str,
        attempts: i64,
        next_attempt_ms: i64,
        last_error: &str,
    ) -> StoreResult<bool>;
    /// Gives the leases of `owner`'s deliveries back (it is stopping).
    async fn release_deliveries(&self, owner: &str) -> StoreResult<u64>;
    /// Deliveries not yet done (of one account, or all).
    async fn pending_deliveries(&self, account_id: Option<&str>) -> StoreResult<u64>;

    /// Stores a new resource; `AlreadyExists` if its kind and name are taken.
    async fn create_bus_resource(&self, resource: &BusResourceRow) -> StoreResult<()>;
    /// A resource.
    async fn get_bus_resource(&self, account_id: &str, kind: &str, name: &str) -> StoreResult<Option<BusResourceRow>>;
    /// Resources of a kind whose names start with `prefix`, a page at a time.
    async fn list_bus_resources(
        &self,
        account_id: &str,
        kind: &str,
        prefix: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<BusResourceRow>>;
    /// Replaces a resource; `NotFound` if missing.
    async fn update_bus_resource(&self, resource: &BusResourceRow) -> StoreResult<()>;
    /// Deletes a resource; `NotFound` if missing.
    async fn delete_bus_resource(&self, account_id: &str, kind: &str, name: &str) -> StoreResult<()>;
}
