//! Connections (how to authenticate to an HTTP endpoint) and API
//! destinations (an endpoint, a method, a rate limit). A connection's
//! secrets — password, API key value, OAuth client secret, parameters marked
//! secret — are sealed with the vault (bound to the connection's ARN) and
//! never returned or logged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sluice_model::events::*;
use sluice_model::wire::{EpochSeconds, SecretString};
use sluice_store::{BusResourceRow, PageRequest};

use crate::arn::resource_arn;
use crate::buses::{now_ms, EventBusService};
use crate::error::{BusError, BusResult};
use crate::token;

const CONNECTION: &str = "connection";
const API_DESTINATION: &str = "api-destination";
/// EventBridge's default invocation rate of an API destination.
pub const DEFAULT_INVOCATION_RATE: i32 = 300;

/// The secret half of a connection, sealed at rest.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ConnectionSecrets {
    /// BASIC: the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
    /// API_KEY: the key's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_value: Option<SecretString>,
    /// OAUTH_CLIENT_CREDENTIALS: the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretString>,
    /// Values of parameters marked `IsValueSecret`, by `kind:key`
    /// (`header:X`, `query:X`, `body:X`, `oauth-header:X`...).
    #[serde(default)]
    pub parameters: BTreeMap<String, SecretString>,
}

/// A connection with its secrets opened, for an invocation.
#[derive(Debug, Clone)]
pub struct OpenedConnection {
    /// The stored (secret-free) connection.
    pub describe: DescribeConnectionResponse,
    /// Its secrets.
    pub secrets: ConnectionSecrets,
}

/// Moves secret parameter values out of `parameters` into `secrets`.
fn split_parameters(parameters: &mut Option<ConnectionHttpParameters>, prefix: &str, secrets: &mut ConnectionSecrets) {
    let Some(p) = parameters else { return };
    for header in p.header_parameters.iter_mut().flatten() {
        if header.is_value_secret == Some(true) {
            if let (Some(key), Some(value)) = (&header.key, header.value.take()) {
                secrets.parameters.insert(format!("{prefix}header:{key}"), value);
            }
        }
    }
    for query in p.query_string_parameters.iter_mut().flatten() {
        if query.is_value_secret == Some(true) {
            if let (Some(key), Some(value)) = (&query.key, query.value.take()) {
                secrets.parameters.insert(format!("{prefix}query:{key}"), value);
            }
        }
    }
    for body in p.body_parameters.iter_mut().flatten() {
        if body.is_value_secret == Some(true) {
            if let (Some(key), Some(value)) = (&body.key, body.value.take()) {
                secrets.parameters.insert(format!("{prefix}body:{key}"), value);
            }
        }
    }
}

fn epoch(ms: i64) -> Option<EpochSeconds> {
    Some(EpochSeconds::from_millis(ms))
}

impl EventBusService {
    fn seal_connection(&self, arn: &str, secrets: &ConnectionSecrets) -> BusResult<String> {
        let plain =
            zeroize::Zeroizing::new(serde_json::to_vec(secrets).map_err(|e| BusError::Internal(e.to_string()))?);
        Ok(self.inner.vault.seal(&plain, arn).to_text())
    }

    /// The auth parameters without secrets, and the secrets, of a request.
    fn split_auth(
        &self,
        authorization_type: &ConnectionAuthorizationType,
        auth: &CreateConnectionAuthRequestParameters,
    ) -> BusResult<(ConnectionAuthResponseParameters, ConnectionSecrets)> {
        let mut secrets = ConnectionSecrets::default();
        let mut public = ConnectionAuthResponseParameters::default();
        match authorization_type {
            ConnectionAuthorizationType::Basic => {
                let basic = auth.basic_auth_parameters.as_ref().ok_or_else(|| {
                    BusError::validation("BasicAuthParameters are required for authorization type BASIC.")
                })?;
                secrets.password = Some(basic.password.clone());
                public.basic_auth_parameters =
                    Some(ConnectionBasicAuthResponseParameters { username: Some(basic.username.clone()) });
            }
            ConnectionAuthorizationType::ApiKey => {
                let key = auth.api_key_auth_parameters.as_ref().ok_or_else(|| {
                    BusError::validation("ApiKeyAuthParameters are required for authorization type API_KEY.")
                })?;
                secrets.api_key_value = Some(key.api_key_value.clone());
                public.api_key_auth_parameters =
                    Some(ConnectionApiKeyAuthResponseParameters { api_key_name: Some(key.api_key_name.clone()) });
            }
            ConnectionAuthorizationType::OauthClientCredentials => {
                let oauth = auth.o_auth_parameters.as_ref().ok_or_else(|| {
                    BusError::validation(
                        "OAuthParameters are required for authorization type OAUTH_CLIENT_CREDENTIALS.",
                    )
                })?;
                self.guard()
                    .check_url_syntax(&oauth.authorization_endpoint)
                    .map_err(|e| BusError::validation(format!("AuthorizationEndpoint: {e}")))?;
                secrets.client_secret = Some(oauth.client_parameters.client_secret.clone());
                let mut http = oauth.o_auth_http_parameters.clone();
                split_parameters(&mut http, "oauth-", &mut secrets);
                public.o_auth_parameters = Some(ConnectionOAuthResponseParameters {
                    client_parameters: Some(ConnectionOAuthClientResponseParameters {
                        client_id: Some(oauth.client_parameters.client_id.clone()),
                    }),
                    authorization_endpoint: Some(oauth.authorization_endpoint.clone()),
                    http_method: Some(oauth.http_method.clone()),
                    o_auth_http_parameters: http,
                });
            }
        }
        let mut invocation = auth.invocation_http_parameters.clone();
        split_parameters(&mut invocation, "", &mut secrets);
        public.invocation_http_parameters = invocation;
        Ok((public, secrets))
    }

    /// CreateConnection.
    pub async fn create_connection(
        &self,
        account_id: &str,
        request: CreateConnectionRequest,
    ) -> BusResult<CreateConnectionResponse> {
        let (public, secrets) = self.split_auth(&request.authorization_type, &request.auth_parameters)?;
        let now = now_ms();
        let arn =
            resource_arn(self.region(), account_id, CONNECTION, &request.name, Some(&uuid::Uuid::new_v4().to_string()));
        let describe = DescribeConnectionResponse {
            connection_arn: Some(arn.clone()),
            name: Some(request.name.clone()),
            description: request.description.clone(),
            connection_state: Some(ConnectionState::Authorized),
            authorization_type: Some(request.authorization_type.clone()),
            auth_parameters: Some(public),
            creation_time: epoch(now),
            last_modified_time: epoch(now),
            last_authorized_time: epoch(now),
            ..Default::default()
        };
        let row = BusResourceRow {
            account_id: account_id.to_string(),
            kind: CONNECTION.into(),
            name: request.name.clone(),
            arn: arn.clone(),
            document: serde_json::to_value(&describe).map_err(|e| BusError::Internal(e.to_string()))?,
            sealed: Some(self.seal_connection(&arn, &secrets)?),
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.store().create_bus_resource(&row).await.map_err(|e| match e {
            sluice_store::StoreError::AlreadyExists { .. } => {
                BusError::AlreadyExists(format!("Connection {} already exists.", request.name))
            }
            other => other.into(),
        })?;
        Ok(CreateConnectionResponse {
            connection_arn: Some(arn),
            connection_state: Some(ConnectionState::Authorized),
            creation_time: epoch(now),
            last_modified_time: epoch(now),
        })
    }

    async fn connection_row(&self, account_id: &str, name: &str) -> BusResult<BusResourceRow> {
        self.store().get_bus_resource(account_id, CONNECTION, name).await?.ok_or_else(|| {
            BusError::NotFound(format!("Failed to describe the connection(s). Connection '{name}' does not exist."))
        })
    }

    /// DescribeConnection (never the secrets).
    pub async fn describe_connection(&self, account_id: &str, name: &str) -> BusResult<DescribeConnectionResponse> {
        let row = self.connection_row(account_id, name).await?;
        serde_json::from_value(row.document)
            .map_err(|e| BusError::Internal(format!("stored connection is corrupt: {e}")))
    }

    /// The connection an ARN names, secrets opened (for invocations).
    pub async fn open_connection(&self, connection_arn: &str) -> BusResult<OpenedConnection> {
        let parsed = crate::arn::parse_arn(connection_arn)
            .ok_or_else(|| BusError::validation(format!("'{connection_arn}' is not a valid ARN")))?;
        let name = parsed.resource.strip_prefix("connection/").and_then(|r| r.split('/').next()).unwrap_or_default();
        let row = self.connection_row(parsed.account_id, name).await?;
        if row.arn != connection_arn {
            return Err(BusError::NotFound(format!("Connection '{connection_arn}' does not exist.")));
        }
        let secrets = match &row.sealed {
            Some(text) => {
                let sealed = sluice_vault::SealedSecret::from_text(text)
                    .map_err(|e| BusError::Internal(format!("sealed connection secrets are corrupt: {e}")))?;
                let plain = self
                    .inner
                    .vault
                    .open(&sealed, &row.arn)
                    .map_err(|e| BusError::Internal(format!("cannot open the connection's secrets: {e}")))?;
                serde_json::from_slice(&plain).map_err(|e| BusError::Internal(e.to_string()))?
            }
            None => ConnectionSecrets::default(),
        };
        let describe = serde_json::from_value(row.document)
            .map_err(|e| BusError::Internal(format!("stored connection is corrupt: {e}")))?;
        Ok(OpenedConnection { describe, secrets })
    }

    /// ListConnections.
    pub async fn list_connections(
        &self,
        account_id: &str,
        request: ListConnectionsRequest,
    ) -> BusResult<ListConnectionsResponse> {
        let page = token::page("ListConnections", request.limit, request.next_token.as_deref(), 100)?;
        let rows = self
            .store()
            .list_bus_resources(account_id, CONNECTION, request.name_prefix.as_deref().unwrap_or(""), &page)
            .await?;
        let mut connections = Vec::new();
        for row in rows.items {
            let d: DescribeConnectionResponse = serde_json::from_value(row.document).unwrap_or_default();
            if request.connection_state.as_ref().is_some_and(|s| d.connection_state.as_ref() != Some(s)) {
                continue;
            }
            connections.push(Connection {
                connection_arn: d.connection_arn,
                name: d.name,
                connection_state: d.connection_state,
                state_reason: d.state_reason,
                authorization_type: d.authorization_type,
                creation_time: d.creation_time,
                last_modified_time: d.last_modified_time,
                last_authorized_time: d.last_authorized_time,
            });
        }
        Ok(ListConnectionsResponse {
            connections: Some(connections),
            next_token: rows.next_cursor.map(|c| token::encode("ListConnections", &c)),
        })
    }

    /// UpdateConnection: the given parts replace the stored ones.
    pub async fn update_connection(
        &self,
        account_id: &str,
        request: UpdateConnectionRequest,
    ) -> BusResult<UpdateConnectionResponse> {
        let mut row = self.connection_row(account_id, &request.name).await?;
        let opened = self.open_connection(&row.arn).await?;
        let mut describe = opened.describe;
        let mut secrets = opened.secrets;
        if let Some(description) = request.description {
            describe.description = Some(description);
        }
        if let Some(kind) = request.authorization_type {
            describe.authorization_type = Some(kind);
        }
        if let Some(auth) = request.auth_parameters {
            // Re-express the update as a create of the merged parameters.
            let kind = describe.authorization_type.clone().unwrap_or(ConnectionAuthorizationType::ApiKey);
            let current = describe.auth_parameters.clone().unwrap_or_default();
            let merged = CreateConnectionAuthRequestParameters {
                basic_auth_parameters: match (auth.basic_auth_parameters, &current.basic_auth_parameters) {
                    (Some(b), current) => Some(CreateConnectionBasicAuthRequestParameters {
                        username: b
                            .username
                            .or_else(|| current.as_ref().and_then(|c| c.username.clone()))
                            .unwrap_or_default(),
                        password: b.password.or_else(|| secrets.password.clone()).unwrap_or_default(),
                    }),
                    (None, Some(c)) => Some(CreateConnectionBasicAuthRequestParameters {
                        username: c.username.clone().unwrap_or_default(),
                        password: secrets.password.clone().unwrap_or_default(),
                    }),
                    (None, None) => None,
                },
                api_key_auth_parameters: match (auth.api_key_auth_parameters, &current.api_key_auth_parameters) {
                    (Some(k), current) => Some(CreateConnectionApiKeyAuthRequestParameters {
                        api_key_name: k
                            .api_key_name
                            .or_else(|| current.as_ref().and_then(|c| c.api_key_name.clone()))
                            .unwrap_or_default(),
                        api_key_value: k.api_key_value.or_else(|| secrets.api_key_value.clone()).unwrap_or_default(),
                    }),
                    (None, Some(c)) => Some(CreateConnectionApiKeyAuthRequestParameters {
                        api_key_name: c.api_key_name.clone().unwrap_or_default(),
                        api_key_value: secrets.api_key_value.clone().unwrap_or_default(),
                    }),
                    (None, None) => None,
                },
                o_auth_parameters: match (auth.o_auth_parameters, &current.o_auth_parameters) {
                    (Some(o), current) => {
                        let client = o.client_parameters.unwrap_or_default();
                        Some(CreateConnectionOAuthRequestParameters {
                            client_parameters: CreateConnectionOAuthClientRequestParameters {
                                client_id: client
                                    .client_id
                                    .or_else(|| {
                                        current.as_ref().and_then(|c| c.client_parameters.as_ref()?.client_id.clone())
                                    })
                                    .unwrap_or_default(),
                                client_secret: client
                                    .client_secret
                                    .or_else(|| secrets.client_secret.clone())
                                    .unwrap_or_default(),
                            },
                            authorization_endpoint: o
                                .authorization_endpoint
                                .or_else(|| current.as_ref().and_then(|c| c.authorization_endpoint.clone()))
                                .unwrap_or_default(),
                            http_method: o
                                .http_method
                                .or_else(|| current.as_ref().and_then(|c| c.http_method.clone()))
                                .unwrap_or(ConnectionOAuthHttpMethod::Post),
                            o_auth_http_parameters: o
                                .o_auth_http_parameters
                                .or_else(|| current.as_ref().and_then(|c| c.o_auth_http_parameters.clone())),
                        })
                    }
                    (None, Some(c)) => Some(CreateConnectionOAuthRequestParameters {
                        client_parameters: CreateConnectionOAuthClientRequestParameters {
                            client_id: c
                                .client_parameters
                                .as_ref()
                                .and_then(|p| p.client_id.clone())
                                .unwrap_or_default(),
                            client_secret: secrets.client_secret.clone().unwrap_or_default(),
                        },
                        authorization_endpoint: c.authorization_endpoint.clone().unwrap_or_default(),
                        http_method: c.http_method.clone().unwrap_or(ConnectionOAuthHttpMethod::Post),
                        o_auth_http_parameters: c.o_auth_http_parameters.clone(),
                    }),
                    (None, None) => None,
                },
                invocation_http_parameters: auth.invocation_http_parameters.or(current.invocation_http_parameters),
                connectivity_parameters: None,
            };
            let keep = secrets.parameters.clone();
            let (public, mut new_secrets) = self.split_auth(&kind, &merged)?;
            for (key, value) in keep {
                new_secrets.parameters.entry(key).or_insert(value);
            }
            describe.auth_parameters = Some(public);
            secrets = new_secrets;
        }
        let now = now_ms();
        describe.last_modified_time = epoch(now);
        row.document = serde_json::to_value(&describe).map_err(|e| BusError::Internal(e.to_string()))?;
        row.sealed = Some(self.seal_connection(&row.arn, &secrets)?);
        row.updated_at_ms = now;
        self.store().update_bus_resource(&row).await?;
        Ok(UpdateConnectionResponse {
            connection_arn: describe.connection_arn,
            connection_state: describe.connection_state,
            creation_time: describe.creation_time,
            last_modified_time: describe.last_modified_time,
            last_authorized_time: describe.last_authorized_time,
        })
    }

    /// DeleteConnection: refused while an API destination uses it.
    pub async fn delete_connection(&self, account_id: &str, name: &str) -> BusResult<DeleteConnectionResponse> {
        let row = self.connection_row(account_id, name).await?;
        let destinations =
            self.store().list_bus_resources(account_id, API_DESTINATION, "", &PageRequest::first(1000)).await?;
        if destinations.items.iter().any(|d| d.document.get("ConnectionArn") == Some(&json!(row.arn))) {
            return Err(BusError::IllegalState(format!(
                "Connection '{name}' is used by an API destination; delete or update that first."
            )));
        }
        self.store().delete_bus_resource(account_id, CONNECTION, name).await?;
        let d: DescribeConnectionResponse = serde_json::from_value(row.document).unwrap_or_default();
        Ok(DeleteConnectionResponse {
            connection_arn: d.connection_arn,
            connection_state: Some(ConnectionState::Deleting),
            creation_time: d.creation_time,
            last_modified_time: d.last_modified_time,
            last_authorized_time: d.last_authorized_time,
        })
    }

    // ----- API destinations -----

    fn check_destination(&self, endpoint: &str, rate: Option<i32>) -> BusResult<()> {
        self.guard()
            .check_url_syntax(endpoint)
            .map_err(|e| BusError::validation(format!("InvocationEndpoint: {e}")))?;
        if !endpoint.starts_with("https://") && !self.guard().allows_private() {
            return Err(BusError::validation("InvocationEndpoint must be an https:// URL."));
        }
        if let Some(rate) = rate {
            if !(1..=300).contains(&rate) {
                return Err(BusError::validation("InvocationRateLimitPerSecond must be from 1 to 300."));
            }
        }
        Ok(())
    }

    /// CreateApiDestination.
    pub async fn create_api_destination(
        &self,
        account_id: &str,
        request: CreateApiDestinationRequest,
    ) -> BusResult<CreateApiDestinationResponse> {
        self.check_destination(&request.invocation_endpoint, request.invocation_rate_limit_per_second)?;
        self.open_connection(&request.connection_arn).await?;
        let now = now_ms();
        let arn = resource_arn(
            self.region(),
            account_id,
            API_DESTINATION,
            &request.name,
            Some(&uuid::Uuid::new_v4().to_string()),
        );
        let describe = DescribeApiDestinationResponse {
            api_destination_arn: Some(arn.clone()),
            name: Some(request.name.clone()),
            description: request.description,
            api_destination_state: Some(ApiDestinationState::Active),
            connection_arn: Some(request.connection_arn),
            invocation_endpoint: Some(request.invocation_endpoint),
            http_method: Some(request.http_method),
            invocation_rate_limit_per_second: Some(
                request.invocation_rate_limit_per_second.unwrap_or(DEFAULT_INVOCATION_RATE),
            ),
            creation_time: epoch(now),
            last_modified_time: epoch(now),
        };
        let row = BusResourceRow {
            account_id: account_id.to_string(),
            kind: API_DESTINATION.into(),
            name: request.name.clone(),
            arn: arn.clone(),
            document: serde_json::to_value(&describe).map_err(|e| BusError::Internal(e.to_string()))?,
            sealed: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.store().create_bus_resource(&row).await.map_err(|e| match e {
            sluice_store::StoreError::AlreadyExists { .. } => {
                BusError::AlreadyExists(format!("An api-destination '{}' already exists.", request.name))
            }
            other => other.into(),
        })?;
        Ok(CreateApiDestinationResponse {
            api_destination_arn: Some(arn),
            api_destination_state: Some(ApiDestinationState::Active),
            creation_time: epoch(now),
            last_modified_time: epoch(now),
        })
    }

    /// DescribeApiDestination.
    pub async fn describe_api_destination(
        &self,
        account_id: &str,
        name: &str,
    ) -> BusResult<DescribeApiDestinationResponse> {
        let row = self.store().get_bus_resource(account_id, API_DESTINATION, name).await?.ok_or_else(|| {
            BusError::NotFound(format!(
                "Failed to describe the api-destination(s). An api-destination '{name}' does not exist."
            ))
        })?;
        serde_json::from_value(row.document)
            .map_err(|e| BusError::Internal(format!("stored API destination is corrupt: {e}")))
    }

    /// ListApiDestinations.
    pub async fn list_api_destinations(
        &self,
        account_id: &str,
        request: ListApiDestinationsRequest,
    ) -> BusResult<ListApiDestinationsResponse> {
        let page = token::page("ListApiDestinations", request.limit, request.next_token.as_deref(), 100)?;
        let rows = self
            .store()
            .list_bus_resources(account_id, API_DESTINATION, request.name_prefix.as_deref().unwrap_or(""), &page)
            .await?;
        let destinations = rows
            .items
            .into_iter()
            .filter_map(|row| serde_json::from_value::<DescribeApiDestinationResponse>(row.document).ok())
            .filter(|d| request.connection_arn.is_none() || d.connection_arn == request.connection_arn)
            .map(|d| ApiDestination {
                api_destination_arn: d.api_destination_arn,
                name: d.name,
                api_destination_state: d.api_destination_state,
                connection_arn: d.connection_arn,
                invocation_endpoint: d.invocation_endpoint,
                http_method: d.http_method,
                invocation_rate_limit_per_second: d.invocation_rate_limit_per_second,
                creation_time: d.creation_time,
                last_modified_time: d.last_modified_time,
            })
            .collect();
        Ok(ListApiDestinationsResponse {
            api_destinations: Some(destinations),
            next_token: rows.next_cursor.map(|c| token::encode("ListApiDestinations", &c)),
        })
    }

    /// UpdateApiDestination.
    pub async fn update_api_destination(
        &self,
        account_id: &str,
        request: UpdateApiDestinationRequest,
    ) -> BusResult<UpdateApiDestinationResponse> {
        let mut describe = self.describe_api_destination(account_id, &request.name).await?;
        if let Some(endpoint) = request.invocation_endpoint {
            describe.invocation_endpoint = Some(endpoint);
        }
        if let Some(rate) = request.invocation_rate_limit_per_second {
            describe.invocation_rate_limit_per_second = Some(rate);
        }
        self.check_destination(
            describe.invocation_endpoint.as_deref().unwrap_or_default(),
            describe.invocation_rate_limit_per_second,
        )?;
        if let Some(connection) = request.connection_arn {
            self.open_connection(&connection).await?;
            describe.connection_arn = Some(connection);
        }
        if let Some(method) = request.http_method {
            describe.http_method = Some(method);
        }
        if let Some(description) = request.description {
            describe.description = Some(description);
        }
        let now = now_ms();
        describe.last_modified_time = epoch(now);
        let mut row = self
            .store()
            .get_bus_resource(account_id, API_DESTINATION, &request.name)
            .await?
            .ok_or_else(|| BusError::NotFound(format!("An api-destination '{}' does not exist.", request.name)))?;
        row.document = serde_json::to_value(&describe).map_err(|e| BusError::Internal(e.to_string()))?;
        row.updated_at_ms = now;
        self.store().update_bus_resource(&row).await?;
        Ok(UpdateApiDestinationResponse {
            api_destination_arn: describe.api_destination_arn,
            api_destination_state: describe.api_destination_state,
            creation_time: describe.creation_time,
            last_modified_time: describe.last_modified_time,
        })
    }

    /// DeleteApiDestination.
    pub async fn delete_api_destination(&self, account_id: &str, name: &str) -> BusResult<()> {
        self.store().delete_bus_resource(account_id, API_DESTINATION, name).await.map_err(|e| match e {
            sluice_store::StoreError::NotFound { .. } => {
                BusError::NotFound(format!("An api-destination '{name}' does not exist."))
            }
            other => other.into(),
        })
    }
}
