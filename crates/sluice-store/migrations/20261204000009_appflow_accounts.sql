-- AppFlow's resources belong to accounts: profiles and flows are unique by
-- (account, name). Rows from before accounts existed get account '' and are
-- adopted by the server's first account when it starts
-- (MetadataStore::adopt_unowned).

CREATE TABLE connector_profiles_next (
    account_id TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    connector_type TEXT NOT NULL,
    connector_label TEXT,
    connection_mode TEXT NOT NULL,
    properties TEXT NOT NULL,
    sealed_credentials TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    auth_error TEXT,
    PRIMARY KEY (account_id, name)
);
INSERT INTO connector_profiles_next (account_id, name, arn, connector_type, connector_label, connection_mode,
    properties, sealed_credentials, created_at_ms, updated_at_ms, auth_error)
SELECT '', name, arn, connector_type, connector_label, connection_mode, properties, sealed_credentials,
    created_at_ms, updated_at_ms, auth_error FROM connector_profiles;
DROP TABLE connector_profiles;
ALTER TABLE connector_profiles_next RENAME TO connector_profiles;

CREATE TABLE flows_next (
    account_id TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    status TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
INSERT INTO flows_next (account_id, name, arn, status, definition, created_at_ms, updated_at_ms)
SELECT '', name, arn, status, definition, created_at_ms, updated_at_ms FROM flows;
DROP TABLE flows;
ALTER TABLE flows_next RENAME TO flows;

CREATE TABLE flow_profiles_next (
    account_id TEXT NOT NULL DEFAULT '',
    flow_name TEXT NOT NULL,
    profile_name TEXT NOT NULL,
    PRIMARY KEY (account_id, flow_name, profile_name)
);
INSERT INTO flow_profiles_next (account_id, flow_name, profile_name)
SELECT '', flow_name, profile_name FROM flow_profiles;
DROP TABLE flow_profiles;
ALTER TABLE flow_profiles_next RENAME TO flow_profiles;
CREATE INDEX flow_profiles_by_profile ON flow_profiles (account_id, profile_name);

CREATE TABLE flow_triggers_next (
    account_id TEXT NOT NULL DEFAULT '',
    flow_name TEXT NOT NULL,
    next_fire_ms BIGINT,
    watermark_ms BIGINT,
    source_state TEXT,
    consecutive_failures BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    listen BIGINT NOT NULL DEFAULT 0,
    listener_owner TEXT,
    listener_until_ms BIGINT,
    PRIMARY KEY (account_id, flow_name)
);
INSERT INTO flow_triggers_next (account_id, flow_name, next_fire_ms, watermark_ms, source_state,
    consecutive_failures, updated_at_ms, listen, listener_owner, listener_until_ms)
SELECT '', flow_name, next_fire_ms, watermark_ms, source_state, consecutive_failures, updated_at_ms, listen,
    listener_owner, listener_until_ms FROM flow_triggers;
DROP TABLE flow_triggers;
ALTER TABLE flow_triggers_next RENAME TO flow_triggers;
CREATE INDEX flow_triggers_due ON flow_triggers (next_fire_ms);

ALTER TABLE flow_executions ADD COLUMN account_id TEXT NOT NULL DEFAULT '';
CREATE INDEX flow_executions_by_account_flow ON flow_executions (account_id, flow_name, started_at_ms, execution_id);

ALTER TABLE run_queue ADD COLUMN account_id TEXT NOT NULL DEFAULT '';
CREATE INDEX run_queue_by_flow ON run_queue (account_id, flow_name);
