//! Semantic checks of AppFlow requests that the botocore model cannot
//! express: which connector types Sluice supports, that union structures
//! name the right connector, schedule expressions, task shapes. Every check
//! appends to one [`ValidationProblems`] so a caller sees all problems at
//! once. No I/O: whether a named profile exists is checked by the caller.

use super::catalog::{Catalog, ConnectorSpec};
use super::set_members;
use super::types::*;
use crate::error::ValidationProblems;

/// Checks the connector-specific parts of a connector profile request.
/// `credentials_required` is false for updates that keep stored credentials.
pub fn check_connector_profile(
    catalog: &Catalog,
    connector_type: ConnectorType,
    connection_mode: ConnectionMode,
    config: &ConnectorProfileConfig,
    credentials_required: bool,
) -> ValidationProblems {
    let mut problems = ValidationProblems::new();
    if connection_mode == ConnectionMode::Private {
        problems.push("connectionMode 'Private' is not supported: Sluice has no private network links; use 'Public'");
    }
    let Some(spec) = catalog.spec(connector_type) else {
        problems.push(format!(
            "connectorType '{connector_type}' is not supported; supported types: {}",
            catalog.supported_names()
        ));
        return problems;
    };
    if !spec.requires_profile {
        problems.push(format!(
            "connectorType '{connector_type}' takes no connector profile: flows name the {connector_type} target directly"
        ));
        return problems;
    }
    let properties = &config.connector_profile_properties;
    expect_only_member(
        &set_members(properties),
        spec.union_member,
        "connectorProfileConfig.connectorProfileProperties",
        &mut problems,
    );
    let credential_members = config.connector_profile_credentials.as_ref().map(set_members).unwrap_or_default();
    if credentials_required || !credential_members.is_empty() {
        expect_only_member(
            &credential_members,
            spec.union_member,
            "connectorProfileConfig.connectorProfileCredentials",
            &mut problems,
        );
    }
    let credentials = config.connector_profile_credentials.as_ref();
    match connector_type {
        ConnectorType::Salesforce => {
            if let Some(props) = &properties.salesforce {
                if props.instance_url.as_deref().is_none_or(str::is_empty) {
                    problems
                        .push("connectorProfileConfig.connectorProfileProperties.Salesforce.instanceUrl is required");
                }
            }
            if let Some(creds) = credentials.and_then(|c| c.salesforce.as_ref()) {
                let has_token =
                    creds.access_token.is_some() || creds.refresh_token.is_some() || creds.jwt_token.is_some();
                let grant = creds.o_auth2_grant_type;
                if grant == Some(OAuth2GrantType::JwtBearer) && creds.jwt_token.is_none() {
                    problems.push("connectorProfileCredentials.Salesforce.jwtToken is required when oAuth2GrantType is JWT_BEARER");
                }
                if !has_token && grant != Some(OAuth2GrantType::ClientCredentials) {
                    problems.push(
                        "connectorProfileCredentials.Salesforce needs an accessToken, a refreshToken or a jwtToken (or oAuth2GrantType CLIENT_CREDENTIALS)",
                    );
                }
            }
        }
        ConnectorType::Redshift => {
            if let Some(props) = &properties.redshift {
                if props.database_url.as_deref().is_none_or(str::is_empty) {
                    problems.push("connectorProfileConfig.connectorProfileProperties.Redshift.databaseUrl is required");
                }
            }
            if let Some(creds) = credentials.and_then(|c| c.redshift.as_ref()) {
                if creds.username.is_none() || creds.password.is_none() {
                    problems.push("connectorProfileCredentials.Redshift needs both username and password");
                }
            }
        }
        _ => {}
    }
    problems
}

/// The parts of a flow that CreateFlow and UpdateFlow both carry, each
/// parsed on its own so that one malformed part (say, an unknown enum value
/// in a task) does not hide the problems of the others. `None` marks a part
/// that is missing or did not parse; the model validator reports those.
#[derive(Debug, Clone, Default)]
pub struct FlowParts {
    /// Trigger settings.
    pub trigger_config: Option<TriggerConfig>,
    /// Where records come from.
    pub source: Option<SourceFlowConfig>,
    /// Where records go (`None`: the list itself is missing).
    pub destinations: Option<Vec<Option<DestinationFlowConfig>>>,
    /// Per-field tasks.
    pub tasks: Vec<Option<Task>>,
}

impl FlowParts {
    /// Parses the parts of a CreateFlow/UpdateFlow request body leniently.
    pub fn from_request(request: &serde_json::Value) -> Self {
        fn part<T: serde::de::DeserializeOwned>(value: Option<&serde_json::Value>) -> Option<T> {
            value.and_then(|v| serde_json::from_value(v.clone()).ok())
        }
        let list = |key: &str| request.get(key).and_then(serde_json::Value::as_array);
        Self {
            trigger_config: part(request.get("triggerConfig")),
            source: part(request.get("sourceFlowConfig")),
            destinations: list("destinationFlowConfigList").map(|items| items.iter().map(|v| part(Some(v))).collect()),
            tasks: list("tasks").map(|items| items.iter().map(|v| part(Some(v))).collect()).unwrap_or_default(),
        }
    }
}

/// Checks a flow definition. Problems are phrased with member paths as
/// in the request.
pub fn check_flow(catalog: &Catalog, flow: &FlowParts) -> ValidationProblems {
    let mut problems = ValidationProblems::new();
    let source_spec = flow.source.as_ref().and_then(|source| check_source(catalog, source, &mut problems));
    if let Some(destinations) = &flow.destinations {
        if destinations.len() != 1 {
            problems.push(format!(
                "destinationFlowConfigList must hold exactly one destination, found {}",
                destinations.len()
            ));
        }
        for (i, destination) in destinations.iter().enumerate() {
            if let Some(destination) = destination {
                let path = format!("destinationFlowConfigList.{}.member", i + 1);
                let usable = check_destination(catalog, destination, &path, &mut problems);
                if let (Some(source), true) = (source_spec, usable) {
                    if !catalog.can_run(source.connector_type, destination.connector_type) {
                        problems.push(format!(
                            "moving data from {} to {} is not supported; the pairs that can run are: {}",
                            source.connector_type,
                            destination.connector_type,
                            catalog.pairs_text()
                        ));
                    }
                }
            }
        }
    }
    if let Some(trigger) = &flow.trigger_config {
        let to_a_bus =
            flow.destinations.iter().flatten().flatten().any(|d| d.connector_type == ConnectorType::EventBridge);
        if to_a_bus && trigger.trigger_type != TriggerType::Event {
            problems.push(format!(
                "an EventBridge destination takes Salesforce events: the flow needs triggerType 'Event', not '{}'",
                trigger.trigger_type
            ));
        }
        check_trigger(trigger, source_spec, &mut problems);
        if let Some(source) = &flow.source {
            check_event_source(trigger.trigger_type, source, &mut problems);
        }
    }
    check_tasks(&flow.tasks, source_spec, &mut problems);
    problems
}

fn check_source<'c>(
    catalog: &'c Catalog,
    source: &SourceFlowConfig,
    problems: &mut ValidationProblems,
) -> Option<&'c ConnectorSpec> {
    let connector_type = source.connector_type;
    let spec = match catalog.spec(connector_type) {
        Some(spec) if spec.can_use_as_source => spec,
        Some(_) => {
            problems.push(format!(
                "sourceFlowConfig.connectorType '{connector_type}' cannot be used as a source; the pairs that can run are: {}",
                catalog.pairs_text()
            ));
            return None;
        }
        None => {
            problems.push(format!(
                "sourceFlowConfig.connectorType '{connector_type}' is not supported; supported types: {}",
                catalog.supported_names()
            ));
            return None;
        }
    };
    expect_only_member(
        &set_members(&source.source_connector_properties),
        spec.union_member,
        "sourceFlowConfig.sourceConnectorProperties",
        problems,
    );
    check_profile_reference(spec, source.connector_profile_name.as_deref(), "sourceFlowConfig", problems);
    Some(spec)
}

/// Checks one destination; true when its connector can be a destination.
fn check_destination(
    catalog: &Catalog,
    destination: &DestinationFlowConfig,
    path: &str,
    problems: &mut ValidationProblems,
) -> bool {
    let connector_type = destination.connector_type;
    let spec = match catalog.spec(connector_type) {
        Some(spec) if spec.can_use_as_destination => spec,
        Some(_) => {
            problems.push(format!(
                "{path}.connectorType '{connector_type}' cannot be used as a destination; the pairs that can run are: {}",
                catalog.pairs_text()
            ));
            return false;
        }
        None => {
            problems.push(format!(
                "{path}.connectorType '{connector_type}' is not supported; supported types: {}",
                catalog.supported_names()
            ));
            return false;
        }
    };
    let props = &destination.destination_connector_properties;
    expect_only_member(
        &set_members(props),
        spec.union_member,
        &format!("{path}.destinationConnectorProperties"),
        problems,
    );
    check_profile_reference(spec, destination.connector_profile_name.as_deref(), path, problems);
    if let Some(salesforce) = &props.salesforce {
        let operation = salesforce.write_operation_type.unwrap_or(WriteOperationType::Insert);
        let has_ids = salesforce.id_field_names.as_ref().is_some_and(|ids| !ids.is_empty());
        if matches!(operation, WriteOperationType::Upsert | WriteOperationType::Update | WriteOperationType::Delete)
            && !has_ids
        {
            problems.push(format!(
                "{path}.destinationConnectorProperties.Salesforce.idFieldNames is required for writeOperationType {operation}"
            ));
        }
    }
    if let Some(operation) = destination_write_operation(props) {
        if !spec.write_operations.contains(&operation) {
            problems.push(format!(
                "{path}: writeOperationType {operation} is not supported by the {connector_type} connector"
            ));
        }
    }
    true
}

fn destination_write_operation(props: &DestinationConnectorProperties) -> Option<WriteOperationType> {
    props.salesforce.as_ref().and_then(|p| p.write_operation_type)
}

fn check_profile_reference(spec: &ConnectorSpec, profile: Option<&str>, path: &str, problems: &mut ValidationProblems) {
    if spec.requires_profile && profile.is_none() {
        problems.push(format!("{path}.connectorProfileName is required for connectorType '{}'", spec.connector_type));
    }
}

fn check_trigger(trigger: &TriggerConfig, source: Option<&ConnectorSpec>, problems: &mut ValidationProblems) {
    let scheduled = trigger.trigger_properties.as_ref().and_then(|p| p.scheduled.as_ref());
    if let Some(source) = source {
        if !source.trigger_types.contains(&trigger.trigger_type) {
            problems.push(format!(
                "triggerConfig.triggerType '{}' is not supported for source connector '{}'",
                trigger.trigger_type, source.connector_type
            ));
        }
    }
    match (trigger.trigger_type, scheduled) {
        (TriggerType::Scheduled, None) => {
            problems.push("triggerConfig.triggerProperties.Scheduled is required when triggerType is 'Scheduled'")
        }
        (TriggerType::Scheduled, Some(props)) => {
            if let Err(reason) = parse_schedule_expression(&props.schedule_expression) {
                problems.push(format!("triggerConfig.triggerProperties.Scheduled.scheduleExpression: {reason}"));
            }
            if let (Some(start), Some(end)) = (props.schedule_start_time, props.schedule_end_time) {
                if end.0 <= start.0 {
                    problems.push(
                        "triggerConfig.triggerProperties.Scheduled.scheduleEndTime must be after scheduleStartTime",
                    );
                }
            }
        }
        (other, Some(_)) => problems.push(format!(
            "triggerConfig.triggerProperties.Scheduled is only allowed when triggerType is 'Scheduled', not '{other}'"
        )),
        _ => {}
    }
}

/// Salesforce events (platform events `X__e`, change events
/// `AccountChangeEvent`, `X__ChangeEvent`) are subscribed to, never
/// queried: an Event flow from Salesforce must name one, and only an Event
/// flow may.
fn check_event_source(trigger: TriggerType, source: &SourceFlowConfig, problems: &mut ValidationProblems) {
    let Some(object) = source.source_connector_properties.salesforce.as_ref().map(|s| s.object.as_str()) else {
        return;
    };
    let is_event = object.ends_with("__e") || (object.ends_with("ChangeEvent") && object != "ChangeEvent");
    let path = "sourceFlowConfig.sourceConnectorProperties.Salesforce.object";
    match (trigger == TriggerType::Event, is_event) {
        (true, false) => problems.push(format!(
            "{path}: an Event flow needs a platform event (ending in __e) or a change event \
             (such as AccountChangeEvent), not '{object}'"
        )),
        (false, true) => problems.push(format!(
            "{path}: '{object}' is an event; events are read by flows with triggerType 'Event', not '{trigger}'"
        )),
        _ => {}
    }
}

/// The connector-dependent part of task checking: the operator must be the
/// source connector's. What each task type needs (fields, operators,
/// properties) is checked by `sluice-transform`, which runs the tasks.
fn check_tasks(tasks: &[Option<Task>], source: Option<&ConnectorSpec>, problems: &mut ValidationProblems) {
    for (i, task) in tasks.iter().enumerate() {
        let Some(task) = task else { continue };
        let path = format!("tasks.{}.member", i + 1);
        if let (Some(operator), Some(source)) = (&task.connector_operator, source) {
            let members = set_members(operator);
            if members.len() != 1 || members[0] != source.union_member {
                problems.push(format!(
                    "{path}.connectorOperator must set exactly the '{}' member to match the source connector, found [{}]",
                    source.union_member,
                    members.join(", ")
                ));
            }
        }
    }
}

pub use crate::schedule::{parse_schedule_expression, Schedule};

fn expect_only_member(members: &[String], expected: &str, path: &str, problems: &mut ValidationProblems) {
    if members.len() == 1 && members[0] == expected {
        return;
    }
    if members.is_empty() {
        problems.push(format!("{path}.{expected} is required"));
    } else {
        problems.push(format!("{path} must set only the '{expected}' member, found [{}]", members.join(", ")));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::appflow::catalog::tests::test_catalog;

    fn problems_of(request: &serde_json::Value) -> Vec<String> {
        check_flow(&test_catalog(), &FlowParts::from_request(request)).problems().to_vec()
    }

    fn salesforce_to_s3() -> serde_json::Value {
        json!({
            "flowName": "accounts",
            "triggerConfig": {"triggerType": "OnDemand"},
            "sourceFlowConfig": {
                "connectorType": "Salesforce",
                "connectorProfileName": "sf",
                "sourceConnectorProperties": {"Salesforce": {"object": "Account"}}
            },
            "destinationFlowConfigList": [{
                "connectorType": "S3",
                "destinationConnectorProperties": {"S3": {"bucketName": "out"}}
            }],
            "tasks": [
                {"taskType": "Filter", "sourceFields": ["Id", "Name"], "connectorOperator": {"Salesforce": "PROJECTION"}},
                {"taskType": "Map", "sourceFields": ["Id"], "destinationField": "Id", "connectorOperator": {"Salesforce": "NO_OP"}}
            ]
        })
    }

    #[test]
    fn a_good_flow_has_no_problems() {
        assert_eq!(problems_of(&salesforce_to_s3()), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_reported() {
        let mut request = salesforce_to_s3();
        request["sourceFlowConfig"]["connectorProfileName"] = json!(null);
        request["sourceFlowConfig"]["sourceConnectorProperties"] = json!({"S3": {"bucketName": "x"}});
        request["triggerConfig"] = json!({"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {"scheduleExpression": "rate(0minutes)"}}});
        request["destinationFlowConfigList"][0]["connectorType"] = json!("Zendesk");
        request["tasks"][1]["connectorOperator"] = json!({"S3": "NO_OP"});
        request["tasks"][1]["destinationField"] = json!(null);
        let problems = problems_of(&request);
        let joined = problems.join("\n");
        assert!(
            joined.contains(
                "sourceFlowConfig.sourceConnectorProperties must set only the 'Salesforce' member, found [S3]"
            ),
            "{joined}"
        );
        assert!(joined.contains("sourceFlowConfig.connectorProfileName is required"), "{joined}");
        assert!(joined.contains("'Zendesk' is not supported"), "{joined}");
        assert!(joined.contains("scheduleExpression: 'rate(0minutes)' must be at least 1"), "{joined}");
        assert!(
            joined.contains("tasks.2.member.connectorOperator must set exactly the 'Salesforce' member"),
            "{joined}"
        );
        assert_eq!(problems.len(), 5, "{joined}");
    }

    #[test]
    fn upsert_needs_id_fields() {
        let mut request = salesforce_to_s3();
        request["sourceFlowConfig"] = json!({
            "connectorType": "S3",
            "sourceConnectorProperties": {"S3": {"bucketName": "in"}}
        });
        request["destinationFlowConfigList"] = json!([{
            "connectorType": "Salesforce",
            "connectorProfileName": "sf",
            "destinationConnectorProperties": {"Salesforce": {"object": "Account", "writeOperationType": "UPSERT"}}
        }]);
        request["tasks"] = json!([{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"S3": "NO_OP"}}]);
        let problems = problems_of(&request);
        assert_eq!(
            problems,
            ["destinationFlowConfigList.1.member.destinationConnectorProperties.Salesforce.idFieldNames is required for writeOperationType UPSERT"]
        );
    }

    #[test]
    fn a_malformed_part_does_not_hide_the_others() {
        let mut request = salesforce_to_s3();
        request["triggerConfig"]["triggerType"] = json!("Sometimes");
        request["tasks"][0]["taskType"] = json!("Explode");
        request["destinationFlowConfigList"][0]["connectorType"] = json!("Zendesk");
        request["tasks"][1]["destinationField"] = json!(null);
        let problems = problems_of(&request);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("'Zendesk' is not supported"));
    }

    #[test]
    fn events_need_an_event_trigger_and_an_event_trigger_needs_events() {
        let mut request = salesforce_to_s3();
        request["triggerConfig"] = json!({"triggerType": "Event"});
        let problems = problems_of(&request);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("an Event flow needs a platform event"), "{problems:?}");
        for object in ["AccountChangeEvent", "Holiday__ChangeEvent", "Holiday_Event__e"] {
            request["sourceFlowConfig"]["sourceConnectorProperties"]["Salesforce"]["object"] = json!(object);
            assert_eq!(problems_of(&request), Vec::<String>::new(), "{object}");
        }
        request["triggerConfig"] = json!({"triggerType": "OnDemand"});
        let problems = problems_of(&request);
        assert!(problems.iter().any(|p| p.contains("'Holiday_Event__e' is an event")), "{problems:?}");
    }

    #[test]
    fn schedule_expressions() {
        assert_eq!(parse_schedule_expression("rate(5minutes)"), Ok(Schedule::Rate { seconds: 300 }));
        assert_eq!(parse_schedule_expression("rate(1 hour)"), Ok(Schedule::Rate { seconds: 3600 }));
        assert!(parse_schedule_expression("rate(5 weeks)").is_err());
        assert!(matches!(parse_schedule_expression("cron(0 12 * * ? *)"), Ok(Schedule::Cron(_))));
        assert!(parse_schedule_expression("cron(0 12 * *)").is_err());
        assert!(parse_schedule_expression("every day").is_err());
    }

    #[test]
    fn profile_checks() {
        let config: ConnectorProfileConfig = serde_json::from_value(json!({
            "connectorProfileProperties": {"Salesforce": {}},
            "connectorProfileCredentials": {"Marketo": {"clientId": "a", "clientSecret": "b"}}
        }))
        .unwrap();
        let problems =
            check_connector_profile(&test_catalog(), ConnectorType::Salesforce, ConnectionMode::Private, &config, true);
        let joined = problems.problems().join("\n");
        assert!(joined.contains("connectionMode 'Private' is not supported"), "{joined}");
        assert!(joined.contains("Salesforce.instanceUrl is required"), "{joined}");
        assert!(
            joined.contains("connectorProfileCredentials must set only the 'Salesforce' member, found [Marketo]"),
            "{joined}"
        );
        let s3 = check_connector_profile(&test_catalog(), ConnectorType::S3, ConnectionMode::Public, &config, true);
        assert_eq!(s3.len(), 1);
        let zendesk =
            check_connector_profile(&test_catalog(), ConnectorType::Zendesk, ConnectionMode::Public, &config, true);
        assert!(zendesk.problems()[0].contains("not supported"));
    }
}
