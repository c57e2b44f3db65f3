-- Why a connector profile needs new credentials (e.g. the app refused its
-- refresh token with invalid_grant); NULL while the credentials work.
ALTER TABLE connector_profiles ADD COLUMN auth_error TEXT;
