-- Key-value tables (DynamoDB): tables as documents; items under byte keys
-- that sort as DynamoDB sorts key values (BYTEA: bytes on PostgreSQL, blobs
-- compared with memcmp on SQLite), each with a version for optimistic
-- writes; secondary-index entries with the base item's keys; and the
-- change streams, numbered per table in commit order through the table's
-- counter (stream_seq).
CREATE TABLE ddb_tables (
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    table_id TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    stream_seq BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE ddb_items (
    table_id TEXT NOT NULL,
    hash_key BYTEA NOT NULL,
    range_key BYTEA NOT NULL,
    hash_point BIGINT NOT NULL,
    version BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (table_id, hash_key, range_key)
);
CREATE INDEX ddb_items_scan ON ddb_items (table_id, hash_point, hash_key, range_key);

CREATE TABLE ddb_index_entries (
    table_id TEXT NOT NULL,
    index_name TEXT NOT NULL,
    hash_key BYTEA NOT NULL,
    range_key BYTEA NOT NULL,
    base_hash_key BYTEA NOT NULL,
    base_range_key BYTEA NOT NULL,
    hash_point BIGINT NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (table_id, index_name, hash_key, range_key, base_hash_key, base_range_key)
);
CREATE INDEX ddb_index_entries_scan ON ddb_index_entries
    (table_id, index_name, hash_point, hash_key, range_key, base_hash_key, base_range_key);
CREATE INDEX ddb_index_entries_base ON ddb_index_entries (table_id, base_hash_key, base_range_key);

CREATE TABLE ddb_streams (
    stream_arn TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    table_name TEXT NOT NULL,
    table_id TEXT NOT NULL,
    stream_label TEXT NOT NULL,
    view_type TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    disabled_at_ms BIGINT,
    first_seq BIGINT NOT NULL
);
CREATE INDEX ddb_streams_by_account ON ddb_streams (account_id, table_name);

CREATE TABLE ddb_stream_records (
    table_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    stream_label TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (table_id, seq)
);
CREATE INDEX ddb_stream_records_age ON ddb_stream_records (created_at_ms);
