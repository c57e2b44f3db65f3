-- Which account each bucket of the embedded object storage belongs to
-- (the first account to use a bucket name owns it, as bucket names are one
-- namespace on AWS too).
CREATE TABLE bucket_owners (
    bucket TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
