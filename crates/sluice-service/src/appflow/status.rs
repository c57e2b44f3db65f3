//! The flow-status state machine, as AppFlow has it: on-demand flows are
//! `Active` from creation and cannot be stopped; scheduled and event flows
//! start as `Draft`, StartFlow makes them `Active`, StopFlow `Suspended`.

use sluice_model::appflow::{FlowStatus, TriggerType};

use crate::ServiceError;

/// The status of a new flow.
pub fn initial(trigger: TriggerType) -> FlowStatus {
    match trigger {
        TriggerType::OnDemand => FlowStatus::Active,
        TriggerType::Scheduled | TriggerType::Event => FlowStatus::Draft,
    }
}

/// The status after UpdateFlow: an on-demand flow is `Active`; a scheduled
/// or event flow keeps `Active` or `Suspended`, and is `Draft` otherwise.
pub fn after_update(trigger: TriggerType, current: Option<FlowStatus>) -> FlowStatus {
    match (trigger, current) {
        (TriggerType::OnDemand, _) => FlowStatus::Active,
        (_, Some(FlowStatus::Active)) => FlowStatus::Active,
        (_, Some(FlowStatus::Suspended)) => FlowStatus::Suspended,
        _ => FlowStatus::Draft,
    }
}

/// What StartFlow does to a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Run it now (on-demand flows; the status stays).
    Run,
    /// Make it `Active`, so its trigger runs it.
    Activate,
}

/// StartFlow on a flow with `trigger` in `current` status.
pub fn start(flow: &str, trigger: TriggerType, current: Option<FlowStatus>) -> Result<Start, ServiceError> {
    match trigger {
        TriggerType::OnDemand => Ok(Start::Run),
        _ if current == Some(FlowStatus::Active) => {
            Err(ServiceError::Conflict(format!("flow '{flow}' is already active")))
        }
        _ => Ok(Start::Activate),
    }
}

/// StopFlow on a flow with `trigger` in `current` status: the new status.
pub fn stop(flow: &str, trigger: TriggerType, current: Option<FlowStatus>) -> Result<FlowStatus, ServiceError> {
    if trigger == TriggerType::OnDemand {
        return Err(ServiceError::UnsupportedOperation(format!(
            "flow '{flow}' runs on demand; only scheduled and event-triggered flows can be stopped"
        )));
    }
    if current != Some(FlowStatus::Active) {
        let status = current.map(|s| s.as_str()).unwrap_or("unknown");
        return Err(ServiceError::Conflict(format!("flow '{flow}' is not active (status {status})")));
    }
    Ok(FlowStatus::Suspended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_demand_flows_are_active_and_run_on_start() {
        assert_eq!(initial(TriggerType::OnDemand), FlowStatus::Active);
        assert_eq!(start("f", TriggerType::OnDemand, Some(FlowStatus::Active)).unwrap(), Start::Run);
        assert!(matches!(
            stop("f", TriggerType::OnDemand, Some(FlowStatus::Active)),
            Err(ServiceError::UnsupportedOperation(_))
        ));
        assert_eq!(after_update(TriggerType::OnDemand, Some(FlowStatus::Suspended)), FlowStatus::Active);
    }

    #[test]
    fn triggered_flows_go_draft_active_suspended() {
        for trigger in [TriggerType::Scheduled, TriggerType::Event] {
            assert_eq!(initial(trigger), FlowStatus::Draft);
            assert_eq!(start("f", trigger, Some(FlowStatus::Draft)).unwrap(), Start::Activate);
            assert!(matches!(start("f", trigger, Some(FlowStatus::Active)), Err(ServiceError::Conflict(_))));
            assert_eq!(stop("f", trigger, Some(FlowStatus::Active)).unwrap(), FlowStatus::Suspended);
            assert!(matches!(stop("f", trigger, Some(FlowStatus::Draft)), Err(ServiceError::Conflict(_))));
            assert_eq!(start("f", trigger, Some(FlowStatus::Suspended)).unwrap(), Start::Activate);
            assert_eq!(after_update(trigger, Some(FlowStatus::Active)), FlowStatus::Active);
            assert_eq!(after_update(trigger, Some(FlowStatus::Suspended)), FlowStatus::Suspended);
            assert_eq!(after_update(trigger, Some(FlowStatus::Errored)), FlowStatus::Draft);
        }
    }
}
