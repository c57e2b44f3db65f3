-- Secrets Manager: each secret's document (metadata and its versions, each
-- value sealed by the vault) and a revision that every change bumps, so
-- concurrent changes on several servers never overwrite each other.
CREATE TABLE secrets (
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    revision BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
