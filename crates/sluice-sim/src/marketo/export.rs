//! Bulk lead export jobs: creation with validated fields, format and
//! filter; the Created -> Queued -> Processing -> Completed lifecycle (or
//! Cancelled); the file (CSV/TSV/SSV, `null` for empty values) with its
//! size and SHA-256 checksum.
//!
//! A queued job advances one state per status poll (Queued -> Processing
//! when fewer than two jobs are processing, Processing -> Completed), and
//! only once `min_state_ms` has passed since its last change. The file is
//! taken when processing starts, as Marketo takes its snapshot then.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::db::LeadDatabase;
use super::error::MktoError;
use super::schema::{lead_field, value_text, LeadField};
use super::time_format::{format_datetime, parse_datetime};

/// Most jobs queued or processing at once.
pub const MAX_QUEUED_JOBS: usize = 10;
/// Most jobs processing at once.
pub const MAX_PROCESSING_JOBS: usize = 2;
/// Longest createdAt/updatedAt range, in days.
pub const MAX_FILTER_DAYS: i64 = 31;

/// Where a job is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportStatus {
    /// Defined, not yet enqueued.
    Created,
    /// Waiting for a processing slot.
    Queued,
    /// Writing the file.
    Processing,
    /// The file is ready.
    Completed,
    /// Stopped by a cancel call.
    Cancelled,
    /// Failed (not produced by the simulator, listed for completeness).
    Failed,
}

impl ExportStatus {
    /// Marketo's name for the status.
    pub fn name(self) -> &'static str {
        match self {
            ExportStatus::Created => "Created",
            ExportStatus::Queued => "Queued",
            ExportStatus::Processing => "Processing",
            ExportStatus::Completed => "Completed",
            ExportStatus::Cancelled => "Cancelled",
            ExportStatus::Failed => "Failed",
        }
    }

    fn is_active(self) -> bool {
        matches!(self, ExportStatus::Queued | ExportStatus::Processing)
    }

    fn is_finished(self) -> bool {
        matches!(self, ExportStatus::Completed | ExportStatus::Cancelled | ExportStatus::Failed)
    }
}

/// File format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Comma-separated.
    Csv,
    /// Tab-separated.
    Tsv,
    /// Semicolon-separated.
    Ssv,
}

impl ExportFormat {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "CSV" => Some(Self::Csv),
            "TSV" => Some(Self::Tsv),
            "SSV" => Some(Self::Ssv),
            _ => None,
        }
    }

    /// Marketo's name for the format.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "CSV",
            ExportFormat::Tsv => "TSV",
            ExportFormat::Ssv => "SSV",
        }
    }

    fn separator(self) -> char {
        match self {
            ExportFormat::Csv => ',',
            ExportFormat::Tsv => '\t',
            ExportFormat::Ssv => ';',
        }
    }
}

/// Which leads an export takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFilter {
    /// Created within [start, end] (Unix seconds).
    CreatedAt(i64, i64),
    /// Updated within [start, end] (Unix seconds).
    UpdatedAt(i64, i64),
}

impl ExportFilter {
    fn accepts(self, created_at: i64, updated_at: i64) -> bool {
        match self {
            ExportFilter::CreatedAt(start, end) => (start..=end).contains(&created_at),
            ExportFilter::UpdatedAt(start, end) => (start..=end).contains(&updated_at),
        }
    }
}

/// A bulk lead export job.
#[derive(Debug, Clone)]
pub struct ExportJob {
    /// `exportId` (a UUID).
    pub id: String,
    /// Lifecycle state.
    pub status: ExportStatus,
    /// File format.
    pub format: ExportFormat,
    /// Fields exported, in column order.
    pub fields: Vec<&'static LeadField>,
    /// Column headers (field names unless renamed).
    pub headers: Vec<String>,
    /// Lead filter.
    pub filter: ExportFilter,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it was enqueued.
    pub queued_at: Option<i64>,
    /// When processing started.
    pub started_at: Option<i64>,
    /// When it completed.
    pub finished_at: Option<i64>,
    /// The file, written when processing starts.
    pub file: Option<Vec<u8>>,
    /// Rows in the file.
    pub number_of_records: usize,
    /// Last state change, for the minimum dwell time.
    pub changed: Instant,
}

impl ExportJob {
    /// The job as status, enqueue, cancel and list calls return it.
    pub fn to_json(&self) -> Value {
        let mut item = json!({
            "exportId": self.id,
            "format": self.format.name(),
            "status": self.status.name(),
            "createdAt": format_datetime(self.created_at),
        });
        if let Some(t) = self.queued_at {
            item["queuedAt"] = json!(format_datetime(t));
        }
        if let Some(t) = self.started_at {
            item["startedAt"] = json!(format_datetime(t));
        }
        if let Some(t) = self.finished_at {
            item["finishedAt"] = json!(format_datetime(t));
        }
        if self.status == ExportStatus::Completed {
            let file = self.file.as_deref().unwrap_or_default();
            item["numberOfRecords"] = json!(self.number_of_records);
            item["fileSize"] = json!(file.len());
            item["fileChecksum"] = json!(format!("sha256:{}", hex(&Sha256::digest(file))));
        }
        item
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn date_range(value: &Value, name: &str) -> Result<(i64, i64), MktoError> {
    let bound = |key: &str| -> Result<i64, MktoError> {
        let text = value
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| MktoError::missing_parameter(&format!("filter.{name}.{key}")))?;
        parse_datetime(text).ok_or_else(|| MktoError::invalid_value(text, "datetime"))
    };
    let (start, end) = (bound("startAt")?, bound("endAt")?);
    if end < start {
        return Err(MktoError::invalid(format!("{name} endAt is before startAt")));
    }
    if end - start > MAX_FILTER_DAYS * 86_400 {
        return Err(MktoError::invalid(format!("{name} date range exceeds {MAX_FILTER_DAYS} days")));
    }
    Ok((start, end))
}

fn parse_filter(filter: &Value) -> Result<ExportFilter, MktoError> {
    let Some(members) = filter.as_object().filter(|m| !m.is_empty()) else {
        return Err(MktoError::missing_parameter("filter"));
    };
    if members.len() > 1 {
        return Err(MktoError::invalid("Only one filter type may be specified"));
    }
    let Some((name, value)) = members.iter().next() else { return Err(MktoError::missing_parameter("filter")) };
    match name.as_str() {
        "createdAt" => date_range(value, name).map(|(s, e)| ExportFilter::CreatedAt(s, e)),
        "updatedAt" => date_range(value, name).map(|(s, e)| ExportFilter::UpdatedAt(s, e)),
        "staticListId" | "staticListName" | "smartListId" | "smartListName" => {
            Err(MktoError::new("1035", "Unsupported filter type for target subscription"))
        }
        other => Err(MktoError::invalid(format!("Invalid filter type '{other}'"))),
    }
}

/// The bulk export jobs of the instance, oldest first.
#[derive(Debug, Default)]
pub struct ExportJobs {
    /// Jobs in creation order.
    pub jobs: Vec<ExportJob>,
    /// Bytes exported today, against the daily quota.
    pub bytes_today: u64,
}

impl ExportJobs {
    /// Validates a create request body and adds a Created job.
    pub fn create(&mut self, body: &Map<String, Value>, now: i64) -> Result<&ExportJob, MktoError> {
        let names: Vec<&str> = match body.get("fields") {
            Some(Value::Array(items)) if !items.is_empty() => {
                items.iter().map(|v| v.as_str().ok_or_else(MktoError::invalid_data)).collect::<Result<_, _>>()?
            }
            Some(Value::Array(_)) | None | Some(Value::Null) => return Err(MktoError::missing_parameter("fields")),
            Some(_) => return Err(MktoError::invalid_data()),
        };
        let fields = names
            .iter()
            .map(|name| lead_field(name).ok_or_else(|| MktoError::field_not_found(name)))
            .collect::<Result<Vec<_>, _>>()?;
        let format = match body.get("format") {
            None | Some(Value::Null) => ExportFormat::Csv,
            Some(value) => value
                .as_str()
                .and_then(ExportFormat::parse)
                .ok_or_else(|| MktoError::invalid(format!("Invalid format '{}'", value_text(value))))?,
        };
        let renames = body.get("columnHeaderNames").and_then(Value::as_object);
        if let Some(renames) = renames {
            if let Some(unknown) = renames.keys().find(|k| !names.contains(&k.as_str())) {
                return Err(MktoError::invalid(format!("Column header field '{unknown}' is not an exported field")));
            }
        }
        let headers = names
            .iter()
            .map(|name| renames.and_then(|r| r.get(*name)).and_then(Value::as_str).unwrap_or(name).to_string())
            .collect();
        let filter = parse_filter(body.get("filter").unwrap_or(&Value::Null))?;
        self.jobs.push(ExportJob {
            id: uuid::Uuid::new_v4().to_string(),
            status: ExportStatus::Created,
            format,
            fields,
            headers,
            filter,
            created_at: now,
            queued_at: None,
            started_at: None,
            finished_at: None,
            file: None,
            number_of_records: 0,
            changed: Instant::now(),
        });
        self.jobs.last().ok_or_else(MktoError::invalid_data)
    }

    fn index(&self, id: &str) -> Result<usize, MktoError> {
        self.jobs.iter().position(|j| j.id == id).ok_or_else(|| MktoError::invalid("Export job not found"))
    }

    /// The job with this id.
    pub fn get(&self, id: &str) -> Result<&ExportJob, MktoError> {
        self.index(id).map(|i| &self.jobs[i])
    }

    /// Enqueues a Created job (1029 when queued already, the queue is full,
    /// or today's export allowance is spent).
    pub fn enqueue(&mut self, id: &str, now: i64, daily_quota_bytes: u64) -> Result<&ExportJob, MktoError> {
        let index = self.index(id)?;
        match self.jobs[index].status {
            ExportStatus::Created => {}
            ExportStatus::Queued | ExportStatus::Processing => {
                return Err(MktoError::new("1029", "Job already queued"));
            }
            finished => return Err(MktoError::invalid(format!("Job is {}", finished.name()))),
        }
        if self.bytes_today >= daily_quota_bytes {
            return Err(MktoError::new("1029", "Export daily quota exceeded"));
        }
        if self.jobs.iter().filter(|j| j.status.is_active()).count() >= MAX_QUEUED_JOBS {
            return Err(MktoError::new("1029", "Too many jobs in queue"));
        }
        let job = &mut self.jobs[index];
        job.status = ExportStatus::Queued;
        job.queued_at = Some(now);
        job.changed = Instant::now();
        Ok(job)
    }

    /// Cancels a job that has not finished.
    pub fn cancel(&mut self, id: &str) -> Result<&ExportJob, MktoError> {
        let index = self.index(id)?;
        let job = &mut self.jobs[index];
        if job.status.is_finished() {
            return Err(MktoError::invalid(format!("Job is {}", job.status.name())));
        }
        job.status = ExportStatus::Cancelled;
        job.file = None;
        job.changed = Instant::now();
        Ok(job)
    }

    /// A status poll: moves the job one state on (see the module docs) and
    /// returns it.
    pub fn poll(&mut self, id: &str, db: &LeadDatabase, now: i64, min_state_ms: u64) -> Result<&ExportJob, MktoError> {
        let index = self.index(id)?;
        let processing = self.jobs.iter().filter(|j| j.status == ExportStatus::Processing).count();
        if self.jobs[index].changed.elapsed() < Duration::from_millis(min_state_ms) {
            return Ok(&self.jobs[index]);
        }
        let job = &mut self.jobs[index];
        match job.status {
            ExportStatus::Queued if processing < MAX_PROCESSING_JOBS => {
                let (file, rows) = render_file(job, db);
                job.file = Some(file);
                job.number_of_records = rows;
                job.status = ExportStatus::Processing;
                job.started_at = Some(now);
                job.changed = Instant::now();
            }
            ExportStatus::Processing => {
                job.status = ExportStatus::Completed;
                job.finished_at = Some(now);
                job.changed = Instant::now();
                self.bytes_today += job.file.as_ref().map_or(0, |f| f.len() as u64);
            }
            _ => {}
        }
        Ok(&self.jobs[index])
    }

    /// The file of a completed job; `None` for unknown or unfinished jobs.
    pub fn file(&self, id: &str) -> Option<&[u8]> {
        self.jobs.iter().find(|j| j.id == id && j.status == ExportStatus::Completed).and_then(|j| j.file.as_deref())
    }
}

fn cell(value: &Value, separator: char) -> String {
    let text = match value {
        Value::Null => return "null".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([separator, '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The export file of `job` over the current leads, and its row count.
pub fn render_file(job: &ExportJob, db: &LeadDatabase) -> (Vec<u8>, usize) {
    let separator = job.format.separator();
    let join = |cells: Vec<String>| cells.join(&separator.to_string());
    let mut out = join(job.headers.iter().map(|h| cell(&json!(h), separator)).collect());
    out.push('\n');
    let mut rows = 0;
    for lead in db.leads.values().filter(|l| job.filter.accepts(l.created_at, l.updated_at)) {
        out.push_str(&join(job.fields.iter().map(|f| cell(&lead.value(f), separator)).collect()));
        out.push('\n');
        rows += 1;
    }
    (out.into_bytes(), rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marketo::db::{SyncAction, API_SOURCE};

    const T0: i64 = 1_706_695_200; // 2024-01-31T10:00:00Z

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn database() -> LeadDatabase {
        let mut db = LeadDatabase::new();
        let email = lead_field("email").unwrap_or(&crate::marketo::schema::LEAD_FIELDS[0]);
        db.sync(
            SyncAction::CreateOrUpdate,
            email,
            &[json!({"email": "a@x.com", "firstName": "Ann", "company": "Acme, Inc."})],
            T0,
            API_SOURCE,
        );
        db.sync(SyncAction::CreateOrUpdate, email, &[json!({"email": "b@x.com"})], T0 + 86_400 * 2, API_SOURCE);
        db
    }

    fn create_request() -> Value {
        json!({"fields": ["id", "email", "firstName", "company"], "format": "CSV",
               "columnHeaderNames": {"id": "Marketo Id"},
               "filter": {"createdAt": {"startAt": "2024-01-31T00:00:00Z", "endAt": "2024-02-01T00:00:00Z"}}})
    }

    #[test]
    fn lifecycle_advances_one_state_per_poll_and_writes_the_file() {
        let db = database();
        let mut jobs = ExportJobs::default();
        let id = jobs.create(&body(create_request()), T0).map(|j| j.id.clone()).unwrap_or_default();
        assert_eq!(jobs.get(&id).map(|j| j.status), Ok(ExportStatus::Created));
        // Polling a Created job does not start it.
        assert_eq!(jobs.poll(&id, &db, T0, 0).map(|j| j.status), Ok(ExportStatus::Created));
        assert_eq!(jobs.enqueue(&id, T0 + 1, u64::MAX).map(|j| j.status), Ok(ExportStatus::Queued));
        assert_eq!(jobs.enqueue(&id, T0 + 1, u64::MAX).err(), Some(MktoError::new("1029", "Job already queued")));
        assert_eq!(jobs.file(&id), None);
        assert_eq!(jobs.poll(&id, &db, T0 + 2, 0).map(|j| j.status), Ok(ExportStatus::Processing));
        let done = jobs.poll(&id, &db, T0 + 3, 0).map(|j| j.to_json()).unwrap_or_default();
        let expected = "Marketo Id,email,firstName,company\n1,a@x.com,Ann,\"Acme, Inc.\"\n";
        assert_eq!(done["status"], "Completed");
        assert_eq!(done["numberOfRecords"], 1);
        assert_eq!(done["fileSize"], expected.len());
        assert_eq!(done["startedAt"], "2024-01-31T10:00:02Z");
        assert_eq!(done["finishedAt"], "2024-01-31T10:00:03Z");
        let checksum = format!("sha256:{}", hex(&Sha256::digest(expected.as_bytes())));
        assert_eq!(done["fileChecksum"], json!(checksum));
        assert_eq!(jobs.file(&id), Some(expected.as_bytes()));
        assert_eq!(jobs.bytes_today, expected.len() as u64);
        assert_eq!(jobs.cancel(&id).err(), Some(MktoError::invalid("Job is Completed")));
    }

    #[test]
    fn minimum_dwell_time_holds_a_state() {
        let db = database();
        let mut jobs = ExportJobs::default();
        let id = jobs.create(&body(create_request()), T0).map(|j| j.id.clone()).unwrap_or_default();
        let _ = jobs.enqueue(&id, T0, u64::MAX);
        assert_eq!(jobs.poll(&id, &db, T0, 60_000).map(|j| j.status), Ok(ExportStatus::Queued));
    }

    #[test]
    fn cancel_and_queue_limits() {
        let db = database();
        let mut jobs = ExportJobs::default();
        let mut ids = Vec::new();
        for _ in 0..11 {
            ids.push(jobs.create(&body(create_request()), T0).map(|j| j.id.clone()).unwrap_or_default());
        }
        for id in &ids[..10] {
            assert!(jobs.enqueue(id, T0, u64::MAX).is_ok());
        }
        assert_eq!(jobs.enqueue(&ids[10], T0, u64::MAX).err(), Some(MktoError::new("1029", "Too many jobs in queue")));
        // Two process at once; the third stays queued.
        for id in &ids[..3] {
            let _ = jobs.poll(id, &db, T0, 0);
        }
        let statuses: Vec<ExportStatus> =
            ids[..3].iter().filter_map(|id| jobs.get(id).ok()).map(|j| j.status).collect();
        assert_eq!(statuses, vec![ExportStatus::Processing, ExportStatus::Processing, ExportStatus::Queued]);
        assert_eq!(jobs.cancel(&ids[0]).map(|j| j.status), Ok(ExportStatus::Cancelled));
        assert!(jobs.enqueue(&ids[10], T0, u64::MAX).is_ok());
        assert_eq!(jobs.get("nope").err(), Some(MktoError::invalid("Export job not found")));
        assert_eq!(
            jobs.enqueue(&ids[1], T0, 0).err(),
            Some(MktoError::new("1029", "Job already queued")),
            "a queued job reports that before the quota"
        );
    }

    #[test]
    fn create_validates_fields_format_and_filter() {
        let mut jobs = ExportJobs::default();
        let mut request = |patch: Value| {
            let mut value = create_request();
            if let (Some(target), Some(patch)) = (value.as_object_mut(), patch.as_object()) {
                for (k, v) in patch {
                    target.insert(k.clone(), v.clone());
                }
            }
            jobs.create(&body(value), T0).err()
        };
        assert_eq!(request(json!({"fields": ["bogus"]})), Some(MktoError::field_not_found("bogus")));
        assert_eq!(request(json!({"fields": []})), Some(MktoError::missing_parameter("fields")));
        assert_eq!(request(json!({"format": "XLS"})), Some(MktoError::invalid("Invalid format 'XLS'")));
        assert_eq!(
            request(
                json!({"filter": {"createdAt": {"startAt": "2024-01-01T00:00:00Z", "endAt": "2024-03-01T00:00:00Z"}}})
            ),
            Some(MktoError::invalid("createdAt date range exceeds 31 days"))
        );
        assert_eq!(
            request(json!({"filter": {"createdAt": {"startAt": "yesterday", "endAt": "2024-03-01T00:00:00Z"}}})),
            Some(MktoError::invalid_value("yesterday", "datetime"))
        );
        assert_eq!(
            request(json!({"filter": {"smartListId": 5}})),
            Some(MktoError::new("1035", "Unsupported filter type for target subscription"))
        );
        assert_eq!(request(json!({"filter": {}})), Some(MktoError::missing_parameter("filter")));
    }

    #[test]
    fn files_write_null_for_empty_values_and_honour_the_separator() {
        let db = database();
        let mut jobs = ExportJobs::default();
        let request = json!({"fields": ["email", "firstName"], "format": "TSV",
                             "filter": {"updatedAt": {"startAt": "2024-02-01T00:00:00Z", "endAt": "2024-02-10T00:00:00Z"}}});
        let job = jobs.create(&body(request), T0).cloned();
        let (file, rows) = job.map(|j| render_file(&j, &db)).unwrap_or_default();
        assert_eq!(String::from_utf8_lossy(&file), "email\tfirstName\nb@x.com\tnull\n");
        assert_eq!(rows, 1);
    }
}
