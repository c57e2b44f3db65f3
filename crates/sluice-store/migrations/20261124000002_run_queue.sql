-- Flow runs waiting for or held by a worker. A worker claims a run with a
-- lease; a run whose lease expired (its worker died) can be claimed again.
CREATE TABLE run_queue (
    execution_id TEXT PRIMARY KEY,
    flow_name TEXT NOT NULL,
    enqueued_at_ms BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at_ms BIGINT,
    cancel_requested BIGINT NOT NULL
);
CREATE INDEX run_queue_by_age ON run_queue (enqueued_at_ms, execution_id);
