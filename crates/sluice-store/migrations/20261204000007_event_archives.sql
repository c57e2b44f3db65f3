-- Archives keep the events their pattern matched (until their retention
-- ends); replays send an archive's events back to its bus, one server at a
-- time through a lease, remembering how far they got.
CREATE TABLE event_archive_events (
    account_id TEXT NOT NULL,
    archive_name TEXT NOT NULL,
    event_time_ms BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    archived_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT,
    size_bytes BIGINT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (account_id, archive_name, event_time_ms, event_id)
);
CREATE INDEX event_archive_events_expiry ON event_archive_events (expires_at_ms);

CREATE TABLE event_replays (
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    archive_name TEXT NOT NULL,
    state TEXT NOT NULL,
    document TEXT NOT NULL,
    lease_owner TEXT,
    lease_expires_at_ms BIGINT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE INDEX event_replays_state ON event_replays (state);
