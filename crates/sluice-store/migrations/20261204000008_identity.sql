-- Accounts, IAM users and roles with their inline policies, and access
-- keys (root, users' and STS sessions'), secrets sealed by the vault.
CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL
);

-- kind 'user' or 'role'; name_key is the lower-cased name (IAM names are
-- unique regardless of case); document is the IAM resource's JSON.
CREATE TABLE iam_principals (
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_key TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, name_key)
);

CREATE TABLE iam_inline_policies (
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    principal_key TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (account_id, kind, principal_key, policy_name)
);

-- kind 'root', 'user' (principal = the user's name key) or 'session'
-- (principal = the role's name key; session holds the session's JSON and
-- expires_at_ms its expiry).
CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    principal TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    status TEXT NOT NULL,
    session TEXT,
    expires_at_ms BIGINT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX access_keys_by_principal ON access_keys (account_id, kind, principal);
CREATE INDEX access_keys_by_expiry ON access_keys (expires_at_ms);
