-- Portable SQL: this one migration tree runs on SQLite and PostgreSQL.
-- Times are milliseconds since the Unix epoch; documents are JSON text.

CREATE TABLE connector_profiles (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    connector_type TEXT NOT NULL,
    connector_label TEXT,
    connection_mode TEXT NOT NULL,
    properties TEXT NOT NULL,
    sealed_credentials TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE flows (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    status TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE flow_profiles (
    flow_name TEXT NOT NULL,
    profile_name TEXT NOT NULL,
    PRIMARY KEY (flow_name, profile_name)
);
CREATE INDEX flow_profiles_by_profile ON flow_profiles (profile_name);

CREATE TABLE flow_executions (
    execution_id TEXT PRIMARY KEY,
    flow_name TEXT NOT NULL,
    status TEXT NOT NULL,
    record TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX flow_executions_by_flow ON flow_executions (flow_name, started_at_ms, execution_id);

CREATE TABLE resource_tags (
    resource_arn TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (resource_arn, tag_key)
);
