//! AppFlow's key layout of a run's output objects.

use sluice_model::appflow::{PathPrefix, PrefixConfig, PrefixFormat, PrefixType};
use time::OffsetDateTime;

/// Where a flow run's output objects go, following AppFlow:
/// `bucketPrefix/flowName/[time path/]executionId/[time-]part-00000.ext`.
#[derive(Debug, Clone)]
pub struct OutputLayout {
    /// `bucketPrefix` of the destination.
    pub bucket_prefix: Option<String>,
    /// The flow.
    pub flow_name: String,
    /// The run.
    pub execution_id: String,
    /// `prefixConfig` of the destination.
    pub prefix_config: Option<PrefixConfig>,
    /// When the run started (the time in path and file prefixes).
    pub started_at: OffsetDateTime,
}

impl OutputLayout {
    fn time_parts(&self) -> Vec<String> {
        let t = self.started_at;
        let format = self.prefix_config.as_ref().and_then(|p| p.prefix_format).unwrap_or(PrefixFormat::Day);
        let all = [
            format!("{:04}", t.year()),
            format!("{:02}", u8::from(t.month())),
            format!("{:02}", t.day()),
            format!("{:02}", t.hour()),
            format!("{:02}", t.minute()),
        ];
        let keep = match format {
            PrefixFormat::Year => 1,
            PrefixFormat::Month => 2,
            PrefixFormat::Day => 3,
            PrefixFormat::Hour => 4,
            PrefixFormat::Minute => 5,
        };
        all[..keep].to_vec()
    }

    /// The folder of this run's objects.
    pub fn folder(&self) -> String {
        let mut parts: Vec<String> =
            self.bucket_prefix.iter().filter(|p| !p.is_empty()).map(|p| p.trim_matches('/').to_string()).collect();
        parts.push(self.flow_name.clone());
        let prefix_type = self.prefix_config.as_ref().and_then(|p| p.prefix_type);
        if matches!(prefix_type, Some(PrefixType::Path) | Some(PrefixType::PathAndFilename)) {
            parts.extend(self.time_parts());
        }
        let hierarchy = self.prefix_config.as_ref().and_then(|p| p.path_prefix_hierarchy.clone()).unwrap_or_default();
        if hierarchy.is_empty() || hierarchy.contains(&PathPrefix::ExecutionId) {
            parts.push(self.execution_id.clone());
        }
        parts.join("/")
    }

    /// The key of output file number `index` with extension `extension`.
    pub fn object_key(&self, index: usize, extension: &str) -> String {
        let prefix_type = self.prefix_config.as_ref().and_then(|p| p.prefix_type);
        let stem = match prefix_type {
            Some(PrefixType::Filename) | Some(PrefixType::PathAndFilename) => {
                format!("{}-part-{index:05}", self.time_parts().join("-"))
            }
            _ => format!("part-{index:05}"),
        };
        format!("{}/{stem}.{extension}", self.folder())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn layout(prefix_config: Option<PrefixConfig>) -> OutputLayout {
        OutputLayout {
            bucket_prefix: Some("exports/".into()),
            flow_name: "accounts".into(),
            execution_id: "e-1".into(),
            prefix_config,
            started_at: datetime!(2026-11-24 07:05:09 UTC),
        }
    }

    #[test]
    fn keys_follow_appflow_layout() {
        assert_eq!(layout(None).object_key(0, "csv"), "exports/accounts/e-1/part-00000.csv");
        let path_hour = PrefixConfig {
            prefix_type: Some(PrefixType::Path),
            prefix_format: Some(PrefixFormat::Hour),
            ..Default::default()
        };
        assert_eq!(
            layout(Some(path_hour)).object_key(3, "parquet"),
            "exports/accounts/2026/11/24/07/e-1/part-00003.parquet"
        );
        let file_day = PrefixConfig {
            prefix_type: Some(PrefixType::Filename),
            prefix_format: Some(PrefixFormat::Day),
            ..Default::default()
        };
        assert_eq!(layout(Some(file_day)).object_key(1, "jsonl"), "exports/accounts/e-1/2026-11-24-part-00001.jsonl");
        let both = PrefixConfig {
            prefix_type: Some(PrefixType::PathAndFilename),
            prefix_format: Some(PrefixFormat::Minute),
            ..Default::default()
        };
        assert_eq!(
            layout(Some(both)).object_key(0, "csv"),
            "exports/accounts/2026/11/24/07/05/e-1/2026-11-24-07-05-part-00000.csv"
        );
    }
}
