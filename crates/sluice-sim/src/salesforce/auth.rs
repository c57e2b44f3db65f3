//! Authentication: the OAuth 2.0 token endpoint (password, refresh token,
//! client credentials, authorization code), the authorize redirect,
//! userinfo, SOAP `login`, and the bearer-token check for REST calls.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde_json::{json, Value};

use super::error::{OAuthError, SfError};
use super::state::{random_token, RefreshGrant, SimState, SimUser};
use super::SalesforceSim;

fn token_response(sim: &SalesforceSim, state: &mut SimState, user: &SimUser, refresh: Option<String>) -> Value {
    let access_token = state.new_session(user);
    let base = sim.base_url();
    let issued_at = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).to_string();
    let mut body = json!({
        "access_token": access_token,
        "instance_url": base,
        "id": format!("{base}/id/{}/{}", state.org.org_id, user.user_id),
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": base64_signature(&access_token, &issued_at),
        "scope": "api refresh_token full",
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    body
}

fn base64_signature(token: &str, issued_at: &str) -> String {
    use base64::Engine;
    let digest = format!("{issued_at}:{}", token.len());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn check_client(state: &SimState, form: &HashMap<String, String>, secret_required: bool) -> Result<String, OAuthError> {
    let client_id =
        form.get("client_id").ok_or_else(|| OAuthError::new("invalid_client_id", "client identifier invalid"))?;
    let app =
        state.apps.get(client_id).ok_or_else(|| OAuthError::new("invalid_client_id", "client identifier invalid"))?;
    match form.get("client_secret") {
        Some(secret) if secret != &app.client_secret => {
            Err(OAuthError::new("invalid_client", "invalid client credentials"))
        }
        None if secret_required => Err(OAuthError::new("invalid_client", "invalid client credentials")),
        _ => Ok(app.client_id.clone()),
    }
}

/// `POST /services/oauth2/token`.
pub async fn token(State(sim): State<SalesforceSim>, Form(form): Form<HashMap<String, String>>) -> Response {
    match issue_token(&sim, &form) {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

fn issue_token(sim: &SalesforceSim, form: &HashMap<String, String>) -> Result<Value, OAuthError> {
    let mut state = sim.lock();
    let grant_type = form.get("grant_type").map(String::as_str).unwrap_or("");
    match grant_type {
        "password" => {
            check_client(&state, form, true)?;
            let username = form.get("username").cloned().unwrap_or_default();
            let password = form.get("password").cloned().unwrap_or_default();
            let user = state
                .users
                .get(&username.to_ascii_lowercase())
                .filter(|u| password == u.password || password == format!("{}{}", u.password, u.security_token))
                .cloned()
                .ok_or_else(|| OAuthError::new("invalid_grant", "authentication failure"))?;
            Ok(token_response(sim, &mut state, &user, None))
        }
        "refresh_token" => {
            let client_id = check_client(&state, form, false)?;
            let refresh = form.get("refresh_token").cloned().unwrap_or_default();
            let grant = state
                .refresh_tokens
                .get(&refresh)
                .filter(|g| g.client_id == client_id)
                .cloned()
                .ok_or_else(|| OAuthError::new("invalid_grant", "expired access/refresh token"))?;
            let user = state
                .users
                .get(&grant.username.to_ascii_lowercase())
                .cloned()
                .ok_or_else(|| OAuthError::new("invalid_grant", "inactive user"))?;
            let rotated = if state.config.rotate_refresh_tokens {
                state.refresh_tokens.remove(&refresh);
                Some(state.new_refresh_token(&grant.username, &client_id))
            } else {
                None
            };
            Ok(token_response(sim, &mut state, &user, rotated))
        }
        "client_credentials" => {
            check_client(&state, form, true)?;
            let admin = state
                .users
                .values()
                .find(|u| u.user_id == state.org.admin_user_id)
                .cloned()
                .ok_or_else(|| OAuthError::new("invalid_grant", "no run-as user"))?;
            Ok(token_response(sim, &mut state, &admin, None))
        }
        "authorization_code" => {
            let client_id = check_client(&state, form, true)?;
            let code = form.get("code").cloned().unwrap_or_default();
            let grant = state
                .auth_codes
                .remove(&code)
                .filter(|g| g.client_id == client_id)
                .ok_or_else(|| OAuthError::new("invalid_grant", "invalid authorization code"))?;
            let user = state
                .users
                .get(&grant.username.to_ascii_lowercase())
                .cloned()
                .ok_or_else(|| OAuthError::new("invalid_grant", "inactive user"))?;
            let refresh = state.new_refresh_token(&grant.username, &client_id);
            Ok(token_response(sim, &mut state, &user, Some(refresh)))
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            let assertion = form.get("assertion").cloned().unwrap_or_default();
            let username = verify_jwt_assertion(&state, &sim.base_url(), &assertion)?;
            let user = state
                .users
                .get(&username.to_ascii_lowercase())
                .cloned()
                .ok_or_else(|| OAuthError::new("invalid_grant", "user hasn't approved this consumer"))?;
            Ok(token_response(sim, &mut state, &user, None))
        }
        "" => Err(OAuthError::new("unsupported_grant_type", "grant type not supported")),
        _ => Err(OAuthError::new("unsupported_grant_type", "grant type not supported")),
    }
}

#[derive(serde::Deserialize)]
struct JwtClaims {
    iss: String,
    sub: String,
    /// Seconds since the epoch; clients send it as a number or a string.
    exp: Value,
}

/// Checks a JWT bearer assertion (RS256, signed by the connected app's key,
/// `iss` = consumer key, `sub` = username, `aud` = a login URL, unexpired)
/// and returns the username.
fn verify_jwt_assertion(state: &SimState, base_url: &str, assertion: &str) -> Result<String, OAuthError> {
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
    let invalid = |why: &str| OAuthError::new("invalid_grant", why.to_string());
    let header = decode_header(assertion).map_err(|_| invalid("invalid assertion"))?;
    if header.alg != Algorithm::RS256 {
        return Err(invalid("invalid assertion: the algorithm must be RS256"));
    }
    let unverified = assertion.split('.').nth(1).ok_or_else(|| invalid("invalid assertion"))?;
    let claims: JwtClaims = {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(unverified.trim_end_matches('='))
            .map_err(|_| invalid("invalid assertion"))?;
        serde_json::from_slice(&bytes).map_err(|_| invalid("invalid assertion: iss and sub are required"))?
    };
    let app =
        state.apps.get(&claims.iss).ok_or_else(|| OAuthError::new("invalid_client_id", "client identifier invalid"))?;
    let pem = app.jwt_public_key_pem.as_deref().ok_or_else(|| {
        OAuthError::new("invalid_client", "no certificate is registered for JWT bearer on this connected app")
    })?;
    let key = DecodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|_| invalid("the connected app's certificate is unusable"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["https://login.salesforce.com", "https://test.salesforce.com", base_url]);
    // `exp` is checked below: simple-salesforce sends it as a string, which
    // the library's own check would refuse.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["aud", "iss", "sub"]);
    decode::<JwtClaims>(assertion, &key, &validation).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidAudience => invalid("audience is invalid"),
        _ => invalid("invalid assertion"),
    })?;
    let expires = match &claims.exp {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| invalid("invalid assertion: exp is required"))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    if expires < now {
        return Err(invalid("expired authorization code"));
    }
    Ok(claims.sub)
}

/// `GET /services/oauth2/authorize`: approves at once for the demo user
/// (a local org has no login page) and redirects with a code.
pub async fn authorize(State(sim): State<SalesforceSim>, Query(query): Query<HashMap<String, String>>) -> Response {
    let mut state = sim.lock();
    let client_id = query.get("client_id").cloned().unwrap_or_default();
    if !state.apps.contains_key(&client_id) {
        return OAuthError::new("invalid_client_id", "client identifier invalid").into_response();
    }
    let Some(redirect_uri) = query.get("redirect_uri") else {
        return OAuthError::new("redirect_uri_mismatch", "redirect_uri must match configuration").into_response();
    };
    let username = query.get("login_hint").cloned().unwrap_or_else(|| super::state::DEMO_USERNAME.to_string());
    if !state.users.contains_key(&username.to_ascii_lowercase()) {
        return OAuthError::new("invalid_grant", "unknown login_hint user").into_response();
    }
    let code = random_token(40);
    state.auth_codes.insert(code.clone(), RefreshGrant { username, client_id });
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let mut target = format!(
        "{redirect_uri}{separator}code={}",
        percent_encoding::utf8_percent_encode(&code, percent_encoding::NON_ALPHANUMERIC)
    );
    if let Some(state_param) = query.get("state") {
        target.push_str(&format!(
            "&state={}",
            percent_encoding::utf8_percent_encode(state_param, percent_encoding::NON_ALPHANUMERIC)
        ));
    }
    Redirect::to(&target).into_response()
}

/// The session of a request's bearer token, or `INVALID_SESSION_ID`.
pub fn bearer_session(sim: &SalesforceSim, headers: &HeaderMap) -> Result<(String, String), SfError> {
    let value =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(SfError::invalid_session)?;
    let token =
        value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("OAuth ")).ok_or_else(SfError::invalid_session)?;
    let state = sim.lock();
    let session = state.session(token.trim()).ok_or_else(SfError::invalid_session)?;
    Ok((session.user_id.clone(), session.username.clone()))
}

fn user_info(sim: &SalesforceSim, user_id: &str) -> Result<Value, SfError> {
    let state = sim.lock();
    let store = state.org.object("User")?;
    let index = state.org.live_index("User", user_id)?;
    let row = &store.rows[index];
    let get = |name: &str| store.value(row, name).cloned().unwrap_or(Value::Null);
    let base = sim.base_url();
    Ok(json!({
        "sub": format!("{base}/id/{}/{user_id}", state.org.org_id),
        "user_id": user_id,
        "organization_id": state.org.org_id,
        "preferred_username": get("Username"),
        "nickname": get("FirstName"),
        "name": get("Name"),
        "email": get("Email"),
        "email_verified": true,
        "given_name": get("FirstName"),
        "family_name": get("LastName"),
        "zoneinfo": "America/Los_Angeles",
        "locale": "en_US",
        "language": "en_US",
        "active": get("IsActive"),
        "user_type": "STANDARD",
        "utcOffset": -28800000,
        "urls": {
            "rest": format!("{base}/services/data/v{{version}}/"),
            "sobjects": format!("{base}/services/data/v{{version}}/sobjects/"),
            "query": format!("{base}/services/data/v{{version}}/query/"),
        },
    }))
}

/// `GET /services/oauth2/userinfo`.
pub async fn userinfo(State(sim): State<SalesforceSim>, headers: HeaderMap) -> Response {
    let result = bearer_session(&sim, &headers).and_then(|(user_id, _)| user_info(&sim, &user_id));
    match result {
        Ok(body) => Json(body).into_response(),
        Err(_) => (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response(),
    }
}

/// Text of the first element whose local name is `name` (any prefix).
fn xml_text(xml: &str, name: &str) -> Option<String> {
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        let local = tag.split_whitespace().next()?.rsplit(':').next()?;
        if local == name && !tag.starts_with('/') && !tag.ends_with('/') {
            let body = &rest[end + 1..];
            let close = body.find("</")?;
            return Some(xml_unescape(&body[..close]));
        }
    }
    None
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn soap_fault(code: &str, message: &str) -> Response {
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {message}</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{message}</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#,
        message = xml_escape(message)
    );
    (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// `POST /services/Soap/u/{version}`: the partner API `login` call.
pub async fn soap_login(
    State(sim): State<SalesforceSim>,
    axum::extract::Path(version): axum::extract::Path<String>,
    body: String,
) -> Response {
    if xml_text(&body, "login").is_none() && !body.contains("login") {
        return soap_fault("INVALID_OPERATION", "only the login call is supported by the simulator");
    }
    let username = xml_text(&body, "username").unwrap_or_default();
    let password = xml_text(&body, "password").unwrap_or_default();
    let mut state = sim.lock();
    let Some(user) = state.users.get(&username.to_ascii_lowercase()).cloned() else {
        return soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.");
    };
    if password == user.password {
        return soap_fault("LOGIN_MUST_USE_SECURITY_TOKEN", "Invalid username, password, security token; or user locked out. Are you at a new location? When accessing Salesforce--either via a desktop client or the API--from outside of your company's trusted networks, you must add a security token to your password to log in.");
    }
    if password != format!("{}{}", user.password, user.security_token) {
        return soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.");
    }
    let session_id = state.new_session(&user);
    let org_id = state.org.org_id.clone();
    let seconds = state.config.token_lifetime_secs;
    drop(state);
    let base = sim.base_url();
    let version = version.trim_start_matches('v');
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result><metadataServerUrl>{base}/services/Soap/m/{version}/{org_id}</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>false</sandbox><serverUrl>{base}/services/Soap/u/{version}/{org_id}</serverUrl><sessionId>{session_id}</sessionId><userId>{user_id}</userId><userInfo><accessibilityMode>false</accessibilityMode><currencySymbol>$</currencySymbol><orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit><orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode><orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments><orgHasPersonAccounts>false</orgHasPersonAccounts><organizationId>{org_id}</organizationId><organizationMultiCurrency>false</organizationMultiCurrency><organizationName>Sluice Simulator</organizationName><profileId>00e5g000000AbCdAAK</profileId><roleId xsi:nil="true"/><sessionSecondsValid>{seconds}</sessionSecondsValid><userDefaultCurrencyIsoCode xsi:nil="true"/><userEmail>{email}</userEmail><userFullName>Sluice Admin</userFullName><userId>{user_id}</userId><userLanguage>en_US</userLanguage><userLocale>en_US</userLocale><userName>{email}</userName><userTimeZone>America/Los_Angeles</userTimeZone><userType>Standard</userType><userUiSkin>Theme3</userUiSkin></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"#,
        user_id = user.user_id,
        email = xml_escape(&user.username),
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_ignores_prefixes_and_unescapes() {
        let xml = r#"<se:Envelope><se:Body><login xmlns="urn:partner.soap.sforce.com"><username>a@b.c</username><n1:password>p&amp;wTOKEN</n1:password></login></se:Body></se:Envelope>"#;
        assert_eq!(xml_text(xml, "username").as_deref(), Some("a@b.c"));
        assert_eq!(xml_text(xml, "password").as_deref(), Some("p&wTOKEN"));
        assert_eq!(xml_text(xml, "missing"), None);
    }
}
