//! Run reports: what a worker tells the rest of Sluice about runs (AppFlow
//! publishes them as "AppFlow Start Flow Run Report" / "AppFlow End Flow
//! Run Report" / "AppFlow Scheduled Flow Deactivated" events). The engine
//! knows no bus; the service layer gives the worker a [`RunReports`].

use std::sync::Arc;

use sluice_model::appflow::ExecutionStatus;
use sluice_store::FlowRecord;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunReportKind {
    /// A worker started the run.
    Started,
    /// The run ended (see `status`).
    Ended,
    /// A scheduled flow was deactivated after failed runs in a row.
    ScheduledFlowDeactivated,
}

/// One report.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// What happened.
    pub kind: RunReportKind,
    /// The flow (as stored when the run started).
    pub flow: FlowRecord,
    /// The run.
    pub execution_id: String,
    /// Its final status (`Ended`).
    pub status: Option<ExecutionStatus>,
    /// Records read.
    pub records_processed: i64,
    /// Bytes read.
    pub bytes_processed: i64,
    /// Bytes written.
    pub bytes_written: i64,
    /// Records the destination refused.
    pub records_refused: i64,
    /// Why it failed.
    pub error_message: Option<String>,
    /// When the run started (ms).
    pub started_at_ms: i64,
    /// When it ended (ms).
    pub ended_at_ms: Option<i64>,
    /// Why the flow was deactivated (`ScheduledFlowDeactivated`).
    pub deactivation_reason: Option<String>,
}

/// Receives run reports; must not fail the run (log instead).
#[async_trait::async_trait]
pub trait RunReports: Send + Sync {
    /// Takes one report.
    async fn report(&self, report: RunReport);
}

/// The worker's report receiver, if any.
#[derive(Clone, Default)]
pub struct Reports(pub Option<Arc<dyn RunReports>>);

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Reports(set)" } else { "Reports(none)" })
    }
}

impl Reports {
    /// Sends a report if someone listens.
    pub async fn send(&self, report: RunReport) {
        if let Some(reports) = &self.0 {
            reports.report(report).await;
        }
    }
}
