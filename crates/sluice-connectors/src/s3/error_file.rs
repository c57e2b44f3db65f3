//! The error file of a run (`errorHandlingConfig.bucketName`): refused
//! records with their error, streamed as they come into
//! `bucketPrefix/flowName/executionId/errors.csv`. The columns are the
//! flow's output fields, then `error`. The file is published whatever ended
//! the run, and only when a record was refused.

use std::sync::Arc;

use super::buckets::{Buckets, ObjectStore, PendingObject};
use crate::plane::{RefusedRecord, RefusedRecordSink, RunScope};
use crate::ConnectorError;

/// An error file being written.
pub struct ErrorFile {
    bucket_name: String,
    bucket: Arc<dyn ObjectStore>,
    key: String,
    columns: Vec<String>,
    upload: Option<PendingObject>,
}

fn failed(error: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Invalid(format!("error file: {error}"))
}

impl ErrorFile {
    /// The error file of the run in `scope`, in `bucket` under `prefix`,
    /// with `columns` (the flow's output fields).
    pub fn open(
        buckets: &Buckets,
        bucket: &str,
        prefix: Option<&str>,
        columns: Vec<String>,
        scope: &RunScope,
    ) -> Result<Self, ConnectorError> {
        let prefix = prefix.unwrap_or("").trim_matches('/');
        let folder = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Ok(Self {
            bucket_name: bucket.to_string(),
            bucket: buckets.bucket(bucket)?,
            key: format!("{folder}{}/{}/errors.csv", scope.flow_name, scope.execution_id),
            columns,
            upload: None,
        })
    }
}

#[async_trait::async_trait]
impl RefusedRecordSink for ErrorFile {
    async fn add(&mut self, records: &[RefusedRecord]) -> Result<(), ConnectorError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut rows = csv::Writer::from_writer(Vec::new());
        if self.upload.is_none() {
            self.upload = Some(PendingObject::start(&self.bucket, &self.key).await?);
            let mut header = self.columns.clone();
            header.push("error".into());
            rows.write_record(&header).map_err(failed)?;
        }
        for record in records {
            let cell = |column: &String| {
                record.cells.iter().find(|(name, _)| name == column).map(|(_, value)| value.as_str()).unwrap_or("")
            };
            let mut row: Vec<&str> = self.columns.iter().map(cell).collect();
            row.push(&record.error);
            rows.write_record(&row).map_err(failed)?;
        }
        let bytes = rows.into_inner().map_err(failed)?;
        if let Some(upload) = self.upload.as_mut() {
            upload.write(&bytes).await?;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), ConnectorError> {
        if let Some(upload) = self.upload.take() {
            upload.finish().await?;
        }
        Ok(())
    }

    fn location(&self) -> String {
        format!("{}/{}", self.bucket_name, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_records_are_written_by_column_and_published_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let buckets = Buckets::local(dir.path());
        let scope = RunScope::new("status", "e-1", time::OffsetDateTime::now_utc(), 1);
        let mut file =
            ErrorFile::open(&buckets, "errors", Some("/failed/"), vec!["Id".into(), "Name".into()], &scope).unwrap();
        assert_eq!(file.location(), "errors/failed/status/e-1/errors.csv");
        file.add(&[]).await.unwrap();
        file.add(&[RefusedRecord { cells: vec![("Name".into(), "Zoë, \"A\"".into())], error: "E: bad".into() }])
            .await
            .unwrap();
        assert!(buckets.list("errors", None).await.unwrap().is_empty(), "unpublished until finish");
        file.finish().await.unwrap();
        let text = String::from_utf8(buckets.get("errors", "failed/status/e-1/errors.csv").await.unwrap()).unwrap();
        assert_eq!(text, "Id,Name,error\n,\"Zoë, \"\"A\"\"\",E: bad\n");
    }
}
