-- The event bus (EventBridge): buses, rules and their targets per account,
-- the deliveries of matched events to targets (durable before PutEvents
-- answers, each claimed by one server through a lease), and the bus's other
-- resources (connections, API destinations, archives, replays) as documents.
CREATE TABLE event_buses (
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE event_rules (
    account_id TEXT NOT NULL,
    bus_name TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    -- A scheduled rule's next occurrence (claimed by compare-and-set).
    next_fire_ms BIGINT,
    PRIMARY KEY (account_id, bus_name, name)
);
CREATE INDEX event_rules_due ON event_rules (next_fire_ms);

CREATE TABLE event_targets (
    account_id TEXT NOT NULL,
    bus_name TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    target_id TEXT NOT NULL,
    arn TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (account_id, bus_name, rule_name, target_id)
);
CREATE INDEX event_targets_by_arn ON event_targets (account_id, bus_name, arn);

CREATE TABLE event_deliveries (
    delivery_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    bus_name TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    target_id TEXT NOT NULL,
    event TEXT NOT NULL,
    target TEXT NOT NULL,
    ingested_at_ms BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at_ms BIGINT,
    last_error TEXT
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_ms);

CREATE TABLE event_resources (
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    document TEXT NOT NULL,
    sealed TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, name)
);

-- Queues (SQS): attributes as a document; messages with their visibility.
CREATE TABLE queues (
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE queue_messages (
    message_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    queue_name TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    sent_at_ms BIGINT NOT NULL,
    visible_at_ms BIGINT NOT NULL,
    receive_count BIGINT NOT NULL,
    receipt_handle TEXT,
    first_received_at_ms BIGINT
);
CREATE INDEX queue_messages_visible ON queue_messages (account_id, queue_name, visible_at_ms, sent_at_ms);
CREATE INDEX queue_messages_receipt ON queue_messages (receipt_handle);
