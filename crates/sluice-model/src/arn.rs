//! Amazon Resource Names for Sluice's resources, in AppFlow's layout.

/// The kind of resource an AppFlow ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppflowResourceKind {
    /// `arn:aws:appflow:REGION:ACCOUNT:flow/NAME`
    Flow,
    /// `arn:aws:appflow:REGION:ACCOUNT:connectorprofile/NAME`
    ConnectorProfile,
}

impl AppflowResourceKind {
    fn segment(self) -> &'static str {
        match self {
            Self::Flow => "flow",
            Self::ConnectorProfile => "connectorprofile",
        }
    }
}

/// Whether `text` is an AWS account id (12 digits).
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Builds the ARN of a flow or connector profile.
pub fn appflow_arn(kind: AppflowResourceKind, region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:appflow:{region}:{account_id}:{}/{name}", kind.segment())
}

/// A parsed AppFlow resource ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppflowArn {
    /// Flow or connector profile.
    pub kind: AppflowResourceKind,
    /// Region part.
    pub region: String,
    /// Account part.
    pub account_id: String,
    /// Resource name.
    pub name: String,
}

/// Parses an AppFlow resource ARN; `None` when it is not one.
pub fn parse_appflow_arn(arn: &str) -> Option<AppflowArn> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" || parts.next()? != "aws" || parts.next()? != "appflow" {
        return None;
    }
    let region = parts.next()?.to_string();
    let account_id = parts.next()?.to_string();
    let (segment, name) = parts.next()?.split_once('/')?;
    let kind = match segment {
        "flow" => AppflowResourceKind::Flow,
        "connectorprofile" => AppflowResourceKind::ConnectorProfile,
        _ => return None,
    };
    if name.is_empty() {
        return None;
    }
    Some(AppflowArn { kind, region, account_id, name: name.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let arn = appflow_arn(AppflowResourceKind::Flow, "us-east-1", "123456789012", "my-flow");
        assert_eq!(arn, "arn:aws:appflow:us-east-1:123456789012:flow/my-flow");
        let parsed = parse_appflow_arn(&arn).unwrap();
        assert_eq!(parsed.kind, AppflowResourceKind::Flow);
        assert_eq!(parsed.name, "my-flow");
        assert!(parse_appflow_arn("arn:aws:s3:::bucket").is_none());
        assert!(parse_appflow_arn("arn:aws:appflow:us-east-1:1:other/x").is_none());
    }
}
