-- Event flows: whether an active event flow wants a listener (`listen`),
-- and which server holds its listener (`listener_owner`, a lease until
-- `listener_until_ms`), so one server at a time subscribes to its events.
ALTER TABLE flow_triggers ADD COLUMN listen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE flow_triggers ADD COLUMN listener_owner TEXT;
ALTER TABLE flow_triggers ADD COLUMN listener_until_ms BIGINT;
