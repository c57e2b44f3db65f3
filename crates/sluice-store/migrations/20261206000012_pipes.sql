-- EventBridge Pipes: each pipe's definition (a JSON document the service
-- keeps), the state it should be in, where its source has been read to
-- (a table stream's sequence number, as text) and the server that holds it
-- (a lease: one server moves a pipe at a time).
CREATE TABLE pipes (
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    desired_state TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    position TEXT,
    lease_owner TEXT,
    lease_until_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, name)
);
CREATE INDEX pipes_by_state ON pipes (desired_state);
