-- The trigger state of scheduled (and, later, event) flows: when the next
-- occurrence is due (claimed by compare-and-set, so several servers fire
-- each occurrence once), where incremental pulls stand (advanced only after
-- a run's destination committed) and how many runs failed in a row.
CREATE TABLE flow_triggers (
    flow_name TEXT PRIMARY KEY,
    next_fire_ms BIGINT,
    watermark_ms BIGINT,
    source_state TEXT,
    consecutive_failures BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX flow_triggers_due ON flow_triggers (next_fire_ms);

-- What a queued run is for (JSON; NULL for an on-demand run): a scheduled
-- occurrence or a backfill window.
ALTER TABLE run_queue ADD COLUMN request TEXT;
