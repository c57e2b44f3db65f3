//! Request parameters from the query string and form bodies, keeping
//! repeats (`activityTypeIds=1&activityTypeIds=12`) and order.

use percent_encoding::percent_decode_str;

/// Decoded `name=value` pairs in request order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

fn decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` text.
    pub fn parse(text: &str) -> Self {
        Self(
            text.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| match pair.split_once('=') {
                    Some((name, value)) => (decode(name), decode(value)),
                    None => (decode(pair), String::new()),
                })
                .collect(),
        )
    }

    /// Parameters of a query string (none without one).
    pub fn from_query(query: Option<&str>) -> Self {
        query.map(Self::parse).unwrap_or_default()
    }

    /// Parameters of a form body.
    pub fn from_form(body: &[u8]) -> Self {
        Self::parse(&String::from_utf8_lossy(body))
    }

    /// Appends other parameters (later ones lose to earlier ones in `get`).
    pub fn extend(&mut self, other: Params) {
        self.0.extend(other.0);
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first non-blank value of `name`.
    pub fn non_blank(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every comma-separated item of every occurrence of `name`.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|item| item.trim().to_string())
            .filter(|item| !item.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_repeats_lists_and_escapes() {
        let params = Params::parse(
            "activityTypeIds=1&activityTypeIds=12%2C13&since=2024-01-31T10%3A00%3A00%2B02%3A00&q=a+b&flag",
        );
        assert_eq!(params.list("activityTypeIds"), vec!["1", "12", "13"]);
        assert_eq!(params.get("since"), Some("2024-01-31T10:00:00+02:00"));
        assert_eq!(params.get("q"), Some("a b"));
        assert_eq!(params.get("flag"), Some(""));
        assert_eq!(params.non_blank("flag"), None);
        assert_eq!(Params::from_query(None), Params::default());
    }
}
