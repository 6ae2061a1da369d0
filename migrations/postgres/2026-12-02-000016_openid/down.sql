DELETE FROM scopes WHERE name IN ('openid', 'profile', 'email') AND created_at = 0;
ALTER TABLE pending_authorizations DROP COLUMN nonce;
ALTER TABLE auth_codes DROP COLUMN auth_time;
ALTER TABLE auth_codes DROP COLUMN nonce;
DROP TABLE signing_keys;
