//! AWS Signature Version 4: signing (used by the CLI) and verification
//! (used by the server), built on one canonical-request routine so both
//! sides agree byte for byte.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's `X-Amz-Date` may be from the server clock.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 15 * 60;

const AMZ_DATE: &[FormatItem<'static>] = format_description!("[year][month][day]T[hour][minute][second]Z");

/// Formats a time as `X-Amz-Date` (`20261124T070650Z`).
pub fn format_amz_date(t: OffsetDateTime) -> String {
    t.format(AMZ_DATE).expect("formatting a UTC time cannot fail")
}

/// Parses an `X-Amz-Date` value.
pub fn parse_amz_date(text: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(text, AMZ_DATE).ok().map(PrimitiveDateTime::assume_utc)
}

/// Percent-encodes per SigV4: unreserved characters stay, everything else
/// becomes `%XX`; `/` stays when `keep_slash`.
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The parts of an HTTP request that SigV4 covers.
pub struct RequestParts<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// The path exactly as sent on the wire (still percent-encoded).
    pub raw_path: &'a str,
    /// The query string as sent, without `?`.
    pub raw_query: &'a str,
    /// Headers as (name, value) pairs; names in any case.
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body.
    pub payload_hash: &'a str,
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
            (uri_encode(&decode(k), false), uri_encode(&decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Builds the canonical request for the given signed header names
/// (lower case, sorted, `;`-joined as in `SignedHeaders`).
pub fn canonical_request(parts: &RequestParts<'_>, signed_headers: &str) -> String {
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let values: Vec<String> = parts
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| canonical_header_value(v))
            .collect();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    let path = if parts.raw_path.is_empty() { "/" } else { parts.raw_path };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        parts.method,
        uri_encode(path, true),
        canonical_query(parts.raw_query),
        canonical_headers,
        signed_headers,
        parts.payload_hash
    )
}

/// The credential scope `DATE/REGION/SERVICE/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Hex signature of a canonical request.
pub fn signature(secret_key: &str, amz_date: &str, region: &str, service: &str, canonical_request: &str) -> String {
    let date = &amz_date[..8.min(amz_date.len())];
    let scope = credential_scope(date, region, service);
    let string_to_sign = format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()));
    let k_date = hmac(format!("AWS4{secret_key}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex::encode(hmac(&k_signing, string_to_sign.as_bytes()))
}

/// Signs a request: returns the headers to add (`x-amz-date`,
/// `x-amz-content-sha256`, `authorization`). `headers` must already hold
/// `host`.
pub fn sign(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    access_key_id: &str,
    secret_key: &str,
    region: &str,
    service: &str,
    now: OffsetDateTime,
) -> Vec<(String, String)> {
    let amz_date = format_amz_date(now);
    let payload_hash = sha256_hex(body);
    let mut all: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect();
    all.push(("x-amz-date".into(), amz_date.clone()));
    all.push(("x-amz-content-sha256".into(), payload_hash.clone()));
    let mut names: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    names.dedup();
    let signed_headers = names.join(";");
    let parts = RequestParts { method, raw_path, raw_query, headers: &all, payload_hash: &payload_hash };
    let canonical = canonical_request(&parts, &signed_headers);
    let sig = signature(secret_key, &amz_date, region, service, &canonical);
    let scope = credential_scope(&amz_date[..8], region, service);
    vec![
        ("x-amz-date".into(), amz_date),
        ("x-amz-content-sha256".into(), payload_hash),
        (
            "authorization".into(),
            format!("{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, Signature={sig}"),
        ),
    ]
}

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// Access key id from the credential.
    pub access_key_id: String,
    /// Date part of the scope (`YYYYMMDD`).
    pub date: String,
    /// Region part of the scope.
    pub region: String,
    /// Service part of the scope.
    pub service: String,
    /// Signed header names as sent.
    pub signed_headers: String,
    /// Hex signature.
    pub signature: String,
}

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No `Authorization` header.
    Missing,
    /// The header is not a SigV4 header; the string says what is wrong.
    Malformed(String),
    /// The scope, date or signature does not check out.
    Invalid(String),
}

/// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
pub fn parse_authorization(value: &str) -> Result<AuthorizationHeader, SignatureProblem> {
    let rest = value.strip_prefix(ALGORITHM).ok_or_else(|| {
        SignatureProblem::Malformed(format!("unsupported authorization algorithm; expected {ALGORITHM}"))
    })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let missing = |what: &str| SignatureProblem::Malformed(format!("Authorization header requires '{what}' parameter"));
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let fields: Vec<&str> = credential.split('/').collect();
    if fields.len() != 5 || fields[4] != "aws4_request" {
        return Err(SignatureProblem::Malformed(
            "Credential must be ACCESS_KEY/DATE/REGION/SERVICE/aws4_request".to_string(),
        ));
    }
    Ok(AuthorizationHeader {
        access_key_id: fields[0].to_string(),
        date: fields[1].to_string(),
        region: fields[2].to_string(),
        service: fields[3].to_string(),
        signed_headers: signed_headers.to_string(),
        signature: signature.to_string(),
    })
}

/// Checks everything about a signed request except whether the access key
/// is known (the caller looked up `secret_key` for `auth.access_key_id`).
pub fn verify(
    auth: &AuthorizationHeader,
    parts: &RequestParts<'_>,
    secret_key: &str,
    expected_region: &str,
    expected_service: &str,
    now: OffsetDateTime,
) -> Result<(), SignatureProblem> {
    let header = |name: &str| parts.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let amz_date = header("x-amz-date").ok_or_else(|| {
        SignatureProblem::Malformed(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header".into(),
        )
    })?;
    let request_time = parse_amz_date(amz_date).ok_or_else(|| {
        SignatureProblem::Malformed(format!("X-Amz-Date '{amz_date}' is not in the form YYYYMMDDTHHMMSSZ"))
    })?;
    let skew = (now - request_time).whole_seconds();
    if skew.abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(SignatureProblem::Invalid(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            format_amz_date(now - time::Duration::seconds(MAX_CLOCK_SKEW_SECONDS)),
            format_amz_date(now)
        )));
    }
    if auth.date != amz_date[..8] {
        return Err(SignatureProblem::Invalid(
            "Credential should be scoped to a valid date matching X-Amz-Date".into(),
        ));
    }
    if auth.region != expected_region {
        return Err(SignatureProblem::Invalid(format!(
            "Credential should be scoped to a valid region, not '{}'. Expected '{expected_region}'",
            auth.region
        )));
    }
    if auth.service != expected_service {
        return Err(SignatureProblem::Invalid(format!(
            "Credential should be scoped to correct service: '{expected_service}'"
        )));
    }
    let signed: Vec<&str> = auth.signed_headers.split(';').collect();
    if !signed.contains(&"host") {
        return Err(SignatureProblem::Invalid("'Host' must be a signed header".into()));
    }
    if let Some(claimed) = header("x-amz-content-sha256") {
        if claimed != parts.payload_hash {
            return Err(SignatureProblem::Invalid(
                "The provided 'x-amz-content-sha256' header does not match what was computed".into(),
            ));
        }
    }
    let canonical = canonical_request(parts, &auth.signed_headers);
    let expected = signature(secret_key, amz_date, &auth.region, &auth.service, &canonical);
    if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(SignatureProblem::Invalid(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.".into(),
        ));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn aws_test_suite_get_vanilla() {
        // From the AWS SigV4 test suite ("get-vanilla").
        let headers = vec![
            ("Host".to_string(), "example.amazonaws.com".to_string()),
            ("X-Amz-Date".to_string(), "20150830T123600Z".to_string()),
        ];
        let parts = RequestParts {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers: &headers,
            payload_hash: &sha256_hex(b""),
        };
        let canonical = canonical_request(&parts, "host;x-amz-date");
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            signature(SECRET, "20150830T123600Z", "us-east-1", "service", &canonical),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    fn signed(now: OffsetDateTime) -> (Vec<(String, String)>, AuthorizationHeader) {
        let mut headers = vec![("host".to_string(), "127.0.0.1:8080".to_string())];
        let added = sign(
            "POST",
            "/tags/arn%3Aaws%3Aappflow",
            "tagKeys=a%20b&tagKeys=c",
            &headers,
            b"{}",
            "AKID",
            SECRET,
            "us-east-1",
            "appflow",
            now,
        );
        headers.extend(added);
        let auth = parse_authorization(&headers.iter().find(|(n, _)| n == "authorization").unwrap().1).unwrap();
        (headers, auth)
    }

    #[test]
    fn sign_then_verify() {
        let now = OffsetDateTime::now_utc();
        let (headers, auth) = signed(now);
        let hash = sha256_hex(b"{}");
        let parts = RequestParts {
            method: "POST",
            raw_path: "/tags/arn%3Aaws%3Aappflow",
            raw_query: "tagKeys=c&tagKeys=a%20b",
            headers: &headers,
            payload_hash: &hash,
        };
        assert_eq!(verify(&auth, &parts, SECRET, "us-east-1", "appflow", now), Ok(()));
        assert!(matches!(
            verify(&auth, &parts, "wrong", "us-east-1", "appflow", now),
            Err(SignatureProblem::Invalid(_))
        ));
        assert!(
            matches!(verify(&auth, &parts, SECRET, "eu-west-1", "appflow", now), Err(SignatureProblem::Invalid(m)) if m.contains("region"))
        );
        let later = now + time::Duration::minutes(16);
        assert!(
            matches!(verify(&auth, &parts, SECRET, "us-east-1", "appflow", later), Err(SignatureProblem::Invalid(m)) if m.starts_with("Signature expired"))
        );
        let tampered_hash = sha256_hex(b"{\"x\":1}");
        let tampered = RequestParts { payload_hash: &tampered_hash, ..parts };
        assert!(verify(&auth, &tampered, SECRET, "us-east-1", "appflow", now).is_err());
    }

    #[test]
    fn malformed_headers_are_named() {
        assert!(matches!(parse_authorization("Basic abc"), Err(SignatureProblem::Malformed(_))));
        let err =
            parse_authorization("AWS4-HMAC-SHA256 Credential=A/20200101/us-east-1/appflow/aws4_request, Signature=ab")
                .unwrap_err();
        assert_eq!(err, SignatureProblem::Malformed("Authorization header requires 'SignedHeaders' parameter".into()));
    }
}
