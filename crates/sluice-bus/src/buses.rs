//! The bus service: event buses, rules and targets, permissions and tags.
//! PutEvents and routing live in [`crate::put_events`]; connections and API
//! destinations in [`crate::connections`].

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sluice_model::events::pattern::EventPattern;
use sluice_model::events::*;
use sluice_model::schedule::parse_schedule_expression;
use sluice_model::wire::EpochSeconds;
use sluice_model::ValidationProblems;
use sluice_net::OutboundGuard;
use sluice_store::{BusRow, MetadataStore, PageRequest, RuleRow, TargetRow};
use sluice_vault::Vault;

use crate::arn::{bus_arn, parse_arn, rule_arn, TargetKind, DEFAULT_BUS};
use crate::error::{BusError, BusResult};
use crate::policy::BusPolicy;
use crate::put_events::DeliveryWriter;
use crate::queues::QueueService;
use crate::routing::RouteCache;
use crate::token;

/// Most targets a rule may have (EventBridge's quota).
pub const MAX_TARGETS_PER_RULE: usize = 5;
/// Most buses an account may have besides `default` (EventBridge's quota).
pub const MAX_BUSES_PER_ACCOUNT: usize = 100;
/// Default page size of List* calls.
const DEFAULT_LIMIT: usize = 100;

pub use sluice_store::now_ms;

/// EventBridge's rules for buses, rules, targets and events, shared by the
/// API and the CLI; cheap to clone.
#[derive(Clone)]
pub struct EventBusService {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn MetadataStore>,
    pub(crate) vault: Arc<Vault>,
    pub(crate) region: String,
    pub(crate) guard: OutboundGuard,
    pub(crate) routes: RouteCache,
    pub(crate) writer: DeliveryWriter,
    pub(crate) queues: QueueService,
    /// Accounts whose `default` bus is known to exist.
    pub(crate) default_buses: Mutex<HashSet<String>>,
}

impl EventBusService {
    /// A bus service on `store` (spawns its group-commit writer: call
    /// inside a Tokio runtime).
    pub fn new(store: Arc<dyn MetadataStore>, vault: Arc<Vault>, region: &str, guard: OutboundGuard) -> Self {
        let queues = QueueService::new(store.clone(), region);
        Self {
            inner: Arc::new(Inner {
                writer: DeliveryWriter::spawn(store.clone()),
                routes: RouteCache::new(store.clone()),
                store,
                vault,
                region: region.to_string(),
                guard,
                queues,
                default_buses: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// The queue service sharing this store (dead-letter queues, targets).
    pub fn queues(&self) -> &QueueService {
        &self.inner.queues
    }

    /// The region in every ARN.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The outbound-address guard of API destinations.
    pub fn guard(&self) -> OutboundGuard {
        self.inner.guard
    }

    pub(crate) fn store(&self) -> &Arc<dyn MetadataStore> {
        &self.inner.store
    }

    /// Makes sure `account_id` has its `default` bus.
    pub async fn ensure_default_bus(&self, account_id: &str) -> BusResult<()> {
        if self.inner.default_buses.lock().map(|known| known.contains(account_id)).unwrap_or(false) {
            return Ok(());
        }
        if self.store().get_bus(account_id, DEFAULT_BUS).await?.is_none() {
            let now = now_ms();
            let row = BusRow {
                account_id: account_id.to_string(),
                name: DEFAULT_BUS.to_string(),
                arn: bus_arn(self.region(), account_id, DEFAULT_BUS),
                document: json!({}),
                created_at_ms: now,
                updated_at_ms: now,
            };
            match self.store().create_bus(&row).await {
                Ok(()) | Err(sluice_store::StoreError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Ok(mut known) = self.inner.default_buses.lock() {
            known.insert(account_id.to_string());
        }
        Ok(())
    }

    /// The (account, name) of a bus given by name or ARN; `None` means
    /// `default`.
    pub fn resolve_bus(&self, account_id: &str, name_or_arn: Option<&str>) -> BusResult<(String, String)> {
        let Some(given) = name_or_arn.filter(|s| !s.is_empty()) else {
            return Ok((account_id.to_string(), DEFAULT_BUS.to_string()));
        };
        if given.starts_with("arn:") {
            let arn = parse_arn(given).ok_or_else(|| BusError::validation(format!("'{given}' is not a valid ARN")))?;
            let name = arn
                .resource
                .strip_prefix("event-bus/")
                .filter(|_| arn.service == "events")
                .ok_or_else(|| BusError::validation(format!("'{given}' is not an event bus ARN")))?;
            return Ok((arn.account_id.to_string(), name.to_string()));
        }
        Ok((account_id.to_string(), given.to_string()))
    }

    /// A bus of the caller's own account, which must exist.
    async fn own_bus(&self, account_id: &str, name_or_arn: Option<&str>) -> BusResult<BusRow> {
        self.ensure_default_bus(account_id).await?;
        let (owner, name) = self.resolve_bus(account_id, name_or_arn)?;
        if owner != account_id {
            return Err(BusError::AccessDenied(format!(
                "account {account_id} cannot manage event bus {name} of account {owner}"
            )));
        }
        self.store()
            .get_bus(account_id, &name)
            .await?
            .ok_or_else(|| BusError::NotFound(format!("Event bus {name} does not exist.")))
    }

    // ----- buses -----

    /// CreateEventBus.
    pub async fn create_event_bus(
        &self,
        account_id: &str,
        request: CreateEventBusRequest,
    ) -> BusResult<CreateEventBusResponse> {
        self.ensure_default_bus(account_id).await?;
        if request.name == DEFAULT_BUS {
            return Err(BusError::AlreadyExists(format!("Event bus {DEFAULT_BUS} already exists.")));
        }
        match &request.event_source_name {
            Some(source) => {
                if *source != request.name {
                    return Err(BusError::InvalidParameter(format!(
                        "Event bus name must be the name of its partner event source ({source})."
                    )));
                }
                // The source must exist (NotFound otherwise).
                self.describe_event_source(account_id, source).await?;
            }
            None if request.name.starts_with("aws.") => {
                return Err(BusError::InvalidParameter(
                    "Event bus names starting with 'aws.' are reserved for partner event buses (give EventSourceName)."
                        .into(),
                ));
            }
            None if request.name.contains('/') => {
                return Err(BusError::validation("Event bus name must not contain '/'."));
            }
            None => {}
        }
        let existing = self.store().list_buses(account_id, "", &PageRequest::first(MAX_BUSES_PER_ACCOUNT + 2)).await?;
        if existing.items.len() > MAX_BUSES_PER_ACCOUNT {
            return Err(BusError::LimitExceeded(format!(
                "The requested resource exceeds the maximum number allowed ({MAX_BUSES_PER_ACCOUNT} event buses)."
            )));
        }
        let now = now_ms();
        let arn = bus_arn(self.region(), account_id, &request.name);
        let mut document = serde_json::Map::new();
        if let Some(description) = &request.description {
            document.insert("Description".into(), json!(description));
        }
        if let Some(dlq) = &request.dead_letter_config {
            document.insert("DeadLetterConfig".into(), serde_json::to_value(dlq).unwrap_or(Value::Null));
        }
        let row = BusRow {
            account_id: account_id.to_string(),
            name: request.name.clone(),
            arn: arn.clone(),
            document: Value::Object(document),
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.store().create_bus(&row).await.map_err(|e| match e {
            sluice_store::StoreError::AlreadyExists { .. } => {
                BusError::AlreadyExists(format!("Event bus {} already exists.", request.name))
            }
            other => other.into(),
        })?;
        if let Some(source) = &request.event_source_name {
            self.set_event_source_state(account_id, source, "ACTIVE").await?;
        }
        if let Some(tags) = &request.tags {
            self.store().put_tags(&arn, &tag_map(tags)).await?;
        }
        Ok(CreateEventBusResponse {
            event_bus_arn: Some(arn),
            description: request.description,
            dead_letter_config: request.dead_letter_config,
            ..Default::default()
        })
    }

    /// DescribeEventBus.
    pub async fn describe_event_bus(
        &self,
        account_id: &str,
        request: DescribeEventBusRequest,
    ) -> BusResult<DescribeEventBusResponse> {
        self.ensure_default_bus(account_id).await?;
        let (owner, name) = self.resolve_bus(account_id, request.name.as_deref())?;
        let bus = self
            .store()
            .get_bus(&owner, &name)
            .await?
            .ok_or_else(|| BusError::NotFound(format!("Event bus {name} does not exist.")))?;
        if owner != account_id {
            return Err(BusError::AccessDenied(format!("account {account_id} cannot describe event bus {}", bus.arn)));
        }
        let wire = bus_wire(&bus);
        Ok(DescribeEventBusResponse {
            name: wire.name,
            arn: wire.arn,
            description: wire.description,
            policy: wire.policy,
            dead_letter_config: bus
                .document
                .get("DeadLetterConfig")
                .and_then(|v| serde_json::from_value(v.clone()).ok()),
            creation_time: wire.creation_time,
            last_modified_time: wire.last_modified_time,
            ..Default::default()
        })
    }

    /// ListEventBuses.
    pub async fn list_event_buses(
        &self,
        account_id: &str,
        request: ListEventBusesRequest,
    ) -> BusResult<ListEventBusesResponse> {
        self.ensure_default_bus(account_id).await?;
        let page = token::page("ListEventBuses", request.limit, request.next_token.as_deref(), DEFAULT_LIMIT)?;
        let buses = self.store().list_buses(account_id, request.name_prefix.as_deref().unwrap_or(""), &page).await?;
        Ok(ListEventBusesResponse {
            event_buses: Some(buses.items.iter().map(bus_wire).collect()),
            next_token: buses.next_cursor.map(|c| token::encode("ListEventBuses", &c)),
        })
    }

    /// DeleteEventBus: the bus goes with its rules, targets and pending
    /// deliveries. Deleting a bus that does not exist succeeds, as in
    /// EventBridge; `default` cannot be deleted.
    pub async fn delete_event_bus(&self, account_id: &str, request: DeleteEventBusRequest) -> BusResult<()> {
        let (owner, name) = self.resolve_bus(account_id, Some(&request.name))?;
        if owner != account_id {
            return Err(BusError::AccessDenied(format!("account {account_id} cannot delete a bus of {owner}")));
        }
        if name == DEFAULT_BUS {
            return Err(BusError::validation("Cannot delete event bus default."));
        }
        if let Some(bus) = self.store().get_bus(account_id, &name).await? {
            self.store().delete_bus(account_id, &name).await?;
            if name.starts_with(crate::partner_sources::PARTNER_PREFIX) {
                if let Err(error) = self.set_event_source_state(account_id, &name, "PENDING").await {
                    tracing::warn!(bus = %name, %error, "partner event source of a deleted bus not found");
                }
            }
            self.store().remove_tags(&bus.arn, &all_tag_keys(self, &bus.arn).await?).await?;
            self.inner.routes.invalidate(account_id, &name);
        }
        Ok(())
    }

    // ----- rules -----

    /// PutRule: creates or replaces a rule (its targets stay).
    pub async fn put_rule(
        &self,
        account_id: &str,
        caller: &str,
        request: PutRuleRequest,
    ) -> BusResult<PutRuleResponse> {
        let bus = self.own_bus(account_id, request.event_bus_name.as_deref()).await?;
        let mut problems = ValidationProblems::new();
        if request.event_pattern.is_none() && request.schedule_expression.is_none() {
            problems.push("Parameter(s) EventPattern or ScheduleExpression must be specified.");
        }
        if let Some(pattern) = &request.event_pattern {
            EventPattern::parse(pattern).map_err(|e| BusError::InvalidEventPattern(e.to_string()))?;
        }
        if let Some(expression) = &request.schedule_expression {
            if bus.name != DEFAULT_BUS {
                problems.push("ScheduleExpression is supported only on the default event bus.");
            }
            if let Err(reason) = parse_schedule_expression(expression) {
                problems.push(format!("Parameter ScheduleExpression is not valid: {reason}"));
            }
        }
        if !problems.is_empty() {
            return Err(BusError::Validation(problems));
        }
        let now = now_ms();
        let arn = rule_arn(self.region(), account_id, &bus.name, &request.name);
        let existing = self.store().get_rule(account_id, &bus.name, &request.name).await?;
        let rule = Rule {
            name: Some(request.name.clone()),
            arn: Some(arn.clone()),
            event_pattern: request.event_pattern.clone(),
            state: Some(request.state.clone().unwrap_or(RuleState::Enabled)),
            description: request.description.clone(),
            schedule_expression: request.schedule_expression.clone(),
            role_arn: request.role_arn.clone(),
            managed_by: None,
            event_bus_name: Some(bus.name.clone()),
        };
        let mut document = serde_json::to_value(&rule).map_err(|e| BusError::Internal(e.to_string()))?;
        document["CreatedBy"] = json!(existing
            .as_ref()
            .and_then(|r| r.document.get("CreatedBy").cloned())
            .unwrap_or_else(|| json!(caller)));
        let created_at_ms = existing.as_ref().map(|r| r.created_at_ms).unwrap_or(now);
        // An unchanged schedule keeps its next occurrence.
        let same_schedule = existing.as_ref().is_some_and(|r| {
            r.document.get("ScheduleExpression") == document.get("ScheduleExpression")
                && r.document.get("State") == document.get("State")
        });
        let next_fire_ms = match existing.as_ref().and_then(|r| r.next_fire_ms) {
            Some(next) if same_schedule => Some(next),
            _ => crate::schedules::rule_next_fire(&document, now, now),
        };
        let row = RuleRow {
            account_id: account_id.to_string(),
            bus_name: bus.name.clone(),
            name: request.name.clone(),
            arn: arn.clone(),
            document,
            created_at_ms,
            updated_at_ms: now,
            next_fire_ms,
        };
        self.store().put_rule(&row).await?;
        if let Some(tags) = &request.tags {
            self.store().put_tags(&arn, &tag_map(tags)).await?;
        }
        self.inner.routes.invalidate(account_id, &bus.name);
        Ok(PutRuleResponse { rule_arn: Some(arn) })
    }

    async fn rule_of(&self, account_id: &str, bus: Option<&str>, name: &str) -> BusResult<(BusRow, RuleRow)> {
        let bus = self.own_bus(account_id, bus).await?;
        let rule = self
            .store()
            .get_rule(account_id, &bus.name, name)
            .await?
            .ok_or_else(|| BusError::NotFound(format!("Rule {name} does not exist on EventBus {}.", bus.name)))?;
        Ok((bus, rule))
    }

    /// DescribeRule.
    pub async fn describe_rule(
        &self,
        account_id: &str,
        request: DescribeRuleRequest,
    ) -> BusResult<DescribeRuleResponse> {
        let (_, rule) = self.rule_of(account_id, request.event_bus_name.as_deref(), &request.name).await?;
        let wire = rule_wire(&rule);
        Ok(DescribeRuleResponse {
            name: wire.name,
            arn: wire.arn,
            event_pattern: wire.event_pattern,
            schedule_expression: wire.schedule_expression,
            state: wire.state,
            description: wire.description,
            role_arn: wire.role_arn,
            managed_by: None,
            event_bus_name: wire.event_bus_name,
            created_by: rule.document.get("CreatedBy").and_then(Value::as_str).map(str::to_string),
        })
    }

    /// ListRules.
    pub async fn list_rules(&self, account_id: &str, request: ListRulesRequest) -> BusResult<ListRulesResponse> {
        let bus = self.own_bus(account_id, request.event_bus_name.as_deref()).await?;
        let page = token::page("ListRules", request.limit, request.next_token.as_deref(), DEFAULT_LIMIT)?;
        let rules =
            self.store().list_rules(account_id, &bus.name, request.name_prefix.as_deref().unwrap_or(""), &page).await?;
        Ok(ListRulesResponse {
            rules: Some(rules.items.iter().map(rule_wire).collect()),
            next_token: rules.next_cursor.map(|c| token::encode("ListRules", &c)),
        })
    }

    /// EnableRule / DisableRule.
    pub async fn set_rule_state(
        &self,
        account_id: &str,
        bus: Option<&str>,
        name: &str,
        state: RuleState,
    ) -> BusResult<()> {
        let (bus, mut rule) = self.rule_of(account_id, bus, name).await?;
        rule.document["State"] = serde_json::to_value(&state).map_err(|e| BusError::Internal(e.to_string()))?;
        let now = now_ms();
        rule.updated_at_ms = now;
        // Enabling a schedule starts it from now.
        rule.next_fire_ms = crate::schedules::rule_next_fire(&rule.document, now, now);
        self.store().put_rule(&rule).await?;
        self.inner.routes.invalidate(account_id, &bus.name);
        Ok(())
    }

    /// DeleteRule: refused while the rule has targets, as in EventBridge.
    pub async fn delete_rule(&self, account_id: &str, request: DeleteRuleRequest) -> BusResult<()> {
        let bus = self.own_bus(account_id, request.event_bus_name.as_deref()).await?;
        let Some(rule) = self.store().get_rule(account_id, &bus.name, &request.name).await? else {
            return Ok(());
        };
        if !self.store().list_targets(account_id, &bus.name, &request.name).await?.is_empty() {
            return Err(BusError::validation("Rule can't be deleted since it has targets."));
        }
        self.store().delete_rule(account_id, &bus.name, &request.name).await?;
        self.store().remove_tags(&rule.arn, &all_tag_keys(self, &rule.arn).await?).await?;
        self.inner.routes.invalidate(account_id, &bus.name);
        Ok(())
    }

    /// ListRuleNamesByTarget.
    pub async fn list_rule_names_by_target(
        &self,
        account_id: &str,
        request: ListRuleNamesByTargetRequest,
    ) -> BusResult<ListRuleNamesByTargetResponse> {
        let bus = self.own_bus(account_id, request.event_bus_name.as_deref()).await?;
        let page = token::page("ListRuleNamesByTarget", request.limit, request.next_token.as_deref(), DEFAULT_LIMIT)?;
        let names = self.store().rules_by_target(account_id, &bus.name, &request.target_arn, &page).await?;
        Ok(ListRuleNamesByTargetResponse {
            rule_names: Some(names.items),
            next_token: names.next_cursor.map(|c| token::encode("ListRuleNamesByTarget", &c)),
        })
    }

    // ----- targets -----

    /// PutTargets: each target is checked on its own; the ones that fail
    /// come back in `FailedEntries`, the others are stored.
    pub async fn put_targets(&self, account_id: &str, request: PutTargetsRequest) -> BusResult<PutTargetsResponse> {
        let (bus, rule) = self.rule_of(account_id, request.event_bus_name.as_deref(), &request.rule).await?;
        let existing = self.store().list_targets(account_id, &bus.name, &rule.name).await?;
        let mut ids: HashSet<&str> = existing.iter().map(|t| t.target_id.as_str()).collect();
        for target in &request.targets {
            ids.insert(&target.id);
        }
        if ids.len() > MAX_TARGETS_PER_RULE {
            return Err(BusError::LimitExceeded(format!(
                "The requested resource exceeds the maximum number allowed: a rule can have at most \
                 {MAX_TARGETS_PER_RULE} targets."
            )));
        }
        let mut failed = Vec::new();
        let mut rows = Vec::new();
        for target in &request.targets {
            match self.check_target(target) {
                Ok(()) => rows.push(TargetRow {
                    account_id: account_id.to_string(),
                    bus_name: bus.name.clone(),
                    rule_name: rule.name.clone(),
                    target_id: target.id.clone(),
                    arn: target.arn.clone(),
                    document: serde_json::to_value(target).map_err(|e| BusError::Internal(e.to_string()))?,
                }),
                Err(message) => failed.push(PutTargetsResultEntry {
                    target_id: Some(target.id.clone()),
                    error_code: Some("ValidationException".into()),
                    error_message: Some(message),
                }),
            }
        }
        self.store().put_targets(&rows).await?;
        self.inner.routes.invalidate(account_id, &bus.name);
        Ok(PutTargetsResponse { failed_entry_count: Some(failed.len() as i32), failed_entries: Some(failed) })
    }

    /// Why a target cannot be stored, if it cannot.
    fn check_target(&self, target: &Target) -> Result<(), String> {
        TargetKind::parse(&target.arn)?;
        let shaping = [target.input.is_some(), target.input_path.is_some(), target.input_transformer.is_some()];
        if shaping.iter().filter(|set| **set).count() > 1 {
            return Err("Only one of Input, InputPath, or InputTransformer can be specified.".into());
        }
        if let Some(input) = &target.input {
            serde_json::from_str::<Value>(input).map_err(|_| "Input is not valid JSON text.".to_string())?;
        }
        if let Some(path) = &target.input_path {
            sluice_model::events::input_transform::select_path(&json!({}), path).map_err(|e| e.to_string())?;
        }
        if let Some(transformer) = &target.input_transformer {
            sluice_model::events::input_transform::InputTransformer::for_target(
                &target.id,
                &transformer.input_paths_map.clone().unwrap_or_default(),
                &transformer.input_template,
            )
            .map_err(|e| e.to_string())?;
        }
        if let Some(dlq) = target.dead_letter_config.as_ref().and_then(|d| d.arn.as_deref()) {
            match TargetKind::parse(dlq) {
                Ok(TargetKind::Queue { .. }) => {}
                _ => return Err(format!("DeadLetterConfig Arn '{dlq}' is not an SQS queue ARN.")),
            }
        }
        if let Some(retry) = &target.retry_policy {
            if let Some(attempts) = retry.maximum_retry_attempts {
                if !(0..=185).contains(&attempts) {
                    return Err("RetryPolicy MaximumRetryAttempts must be between 0 and 185.".into());
                }
            }
            if let Some(age) = retry.maximum_event_age_in_seconds {
                if !(60..=86_400).contains(&age) {
                    return Err("RetryPolicy MaximumEventAgeInSeconds must be between 60 and 86400.".into());
                }
            }
        }
        Ok(())
    }

    /// RemoveTargets: ids that were not there come back in `FailedEntries`.
    pub async fn remove_targets(
        &self,
        account_id: &str,
        request: RemoveTargetsRequest,
    ) -> BusResult<RemoveTargetsResponse> {
        let (bus, rule) = self.rule_of(account_id, request.event_bus_name.as_deref(), &request.rule).await?;
        let removed = self.store().remove_targets(account_id, &bus.name, &rule.name, &request.ids).await?;
        let failed: Vec<_> = request
            .ids
            .iter()
            .filter(|id| !removed.contains(id))
            .map(|id| RemoveTargetsResultEntry {
                target_id: Some(id.clone()),
                error_code: Some("ResourceNotFoundException".into()),
                error_message: Some(format!("Target {id} does not exist on rule {}.", rule.name)),
            })
            .collect();
        self.inner.routes.invalidate(account_id, &bus.name);
        Ok(RemoveTargetsResponse { failed_entry_count: Some(failed.len() as i32), failed_entries: Some(failed) })
    }

    /// ListTargetsByRule (a rule has at most five targets: one page).
    pub async fn list_targets_by_rule(
        &self,
        account_id: &str,
        request: ListTargetsByRuleRequest,
    ) -> BusResult<ListTargetsByRuleResponse> {
        let (bus, rule) = self.rule_of(account_id, request.event_bus_name.as_deref(), &request.rule).await?;
        if let Some(token_text) = &request.next_token {
            token::decode("ListTargetsByRule", token_text)?;
        }
        let targets = self.store().list_targets(account_id, &bus.name, &rule.name).await?;
        let targets = targets
            .iter()
            .map(|t| serde_json::from_value::<Target>(t.document.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BusError::Internal(format!("stored target is corrupt: {e}")))?;
        Ok(ListTargetsByRuleResponse { targets: Some(targets), next_token: None })
    }

    // ----- patterns, permissions, tags -----

    /// TestEventPattern: whether `event` (a whole event envelope) matches.
    pub fn test_event_pattern(&self, request: TestEventPatternRequest) -> BusResult<TestEventPatternResponse> {
        let pattern =
            EventPattern::parse(&request.event_pattern).map_err(|e| BusError::InvalidEventPattern(e.to_string()))?;
        let event: Value = serde_json::from_str(&request.event)
            .map_err(|_| BusError::validation("Parameter Event is not valid JSON."))?;
        let mut problems = ValidationProblems::new();
        for field in ["id", "account", "source", "time", "region", "detail-type"] {
            if event.get(field).is_none() {
                problems.push(format!("Parameter Event is not valid: it has no '{field}' field."));
            }
        }
        if !problems.is_empty() {
            return Err(BusError::Validation(problems));
        }
        Ok(TestEventPatternResponse { result: Some(pattern.matches(&event)) })
    }

    /// PutPermission: adds a statement to the bus's resource policy (or
    /// replaces the whole policy).
    pub async fn put_permission(&self, account_id: &str, request: PutPermissionRequest) -> BusResult<()> {
        let mut bus = self.own_bus(account_id, request.event_bus_name.as_deref()).await?;
        let current = BusPolicy::of(&bus.document);
        let policy = match &request.policy {
            Some(text) => BusPolicy::parse(text)?,
            None => current.with_statement(
                request.statement_id.as_deref().unwrap_or_default(),
                request.action.as_deref().unwrap_or_default(),
                request.principal.as_deref().unwrap_or_default(),
                request.condition.as_ref(),
                &bus.arn,
            )?,
        };
        policy.store_in(&mut bus.document);
        bus.updated_at_ms = now_ms();
        self.store().update_bus(&bus).await?;
        Ok(())
    }

    /// RemovePermission.
    pub async fn remove_permission(&self, account_id: &str, request: RemovePermissionRequest) -> BusResult<()> {
        let mut bus = self.own_bus(account_id, request.event_bus_name.as_deref()).await?;
        let policy = if request.remove_all_permissions == Some(true) {
            BusPolicy::default()
        } else {
            let id = request.statement_id.as_deref().ok_or_else(|| {
                BusError::validation("Parameter StatementId is required unless RemoveAllPermissions is true.")
            })?;
            BusPolicy::of(&bus.document).without_statement(id)?
        };
        policy.store_in(&mut bus.document);
        bus.updated_at_ms = now_ms();
        self.store().update_bus(&bus).await?;
        Ok(())
    }

    /// Checks that a resource ARN names something of the caller's that
    /// exists (a bus or a rule), for the tag operations.
    async fn taggable(&self, account_id: &str, arn: &str) -> BusResult<()> {
        self.ensure_default_bus(account_id).await?;
        let parsed = parse_arn(arn).ok_or_else(|| BusError::validation(format!("'{arn}' is not a valid ARN")))?;
        let missing = || BusError::NotFound(format!("Resource {arn} does not exist."));
        if parsed.service != "events" || parsed.account_id != account_id {
            return Err(missing());
        }
        let exists = if let Some(name) = parsed.resource.strip_prefix("event-bus/") {
            self.store().get_bus(account_id, name).await?.is_some()
        } else if let Some(rest) = parsed.resource.strip_prefix("rule/") {
            let (bus, name) = rest.split_once('/').unwrap_or((DEFAULT_BUS, rest));
            self.store().get_rule(account_id, bus, name).await?.is_some()
        } else {
            false
        };
        if exists {
            Ok(())
        } else {
            Err(missing())
        }
    }

    /// TagResource.
    pub async fn tag_resource(&self, account_id: &str, request: TagResourceRequest) -> BusResult<()> {
        self.taggable(account_id, &request.resource_arn).await?;
        self.store().put_tags(&request.resource_arn, &tag_map(&request.tags)).await?;
        Ok(())
    }

    /// UntagResource.
    pub async fn untag_resource(&self, account_id: &str, request: UntagResourceRequest) -> BusResult<()> {
        self.taggable(account_id, &request.resource_arn).await?;
        self.store().remove_tags(&request.resource_arn, &request.tag_keys).await?;
        Ok(())
    }

    /// ListTagsForResource.
    pub async fn list_tags_for_resource(
        &self,
        account_id: &str,
        request: ListTagsForResourceRequest,
    ) -> BusResult<ListTagsForResourceResponse> {
        self.taggable(account_id, &request.resource_arn).await?;
        let tags = self.store().get_tags(&request.resource_arn).await?;
        Ok(ListTagsForResourceResponse {
            tags: Some(tags.into_iter().map(|(key, value)| Tag { key, value }).collect()),
        })
    }
}

async fn all_tag_keys(service: &EventBusService, arn: &str) -> BusResult<Vec<String>> {
    Ok(service.store().get_tags(arn).await?.into_keys().collect())
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect()
}

/// A stored time (ms) as the wire's epoch seconds.
pub(crate) fn epoch(ms: i64) -> Option<EpochSeconds> {
    Some(EpochSeconds::from_millis(ms))
}

/// A stored bus as the wire's `EventBus`.
pub(crate) fn bus_wire(bus: &BusRow) -> EventBus {
    EventBus {
        name: Some(bus.name.clone()),
        arn: Some(bus.arn.clone()),
        description: bus.document.get("Description").and_then(Value::as_str).map(str::to_string),
        policy: BusPolicy::of(&bus.document).to_text(),
        creation_time: epoch(bus.created_at_ms),
        last_modified_time: epoch(bus.updated_at_ms),
        managed_by: None,
    }
}

/// A stored rule as the wire's `Rule`.
pub(crate) fn rule_wire(rule: &RuleRow) -> Rule {
    let mut wire: Rule = serde_json::from_value(rule.document.clone()).unwrap_or_default();
    wire.name = Some(rule.name.clone());
    wire.arn = Some(rule.arn.clone());
    wire.event_bus_name = Some(rule.bus_name.clone());
    wire
}
