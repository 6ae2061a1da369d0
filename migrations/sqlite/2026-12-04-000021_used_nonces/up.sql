-- The nonces an ID token from the authorization endpoint (implicit and hybrid flows) has
-- answered, per client, so a replayed one is refused (OpenID Connect Core §15.5.2). Only a hash
-- is kept; cleartokens deletes a row once an ID token carrying it has expired.
CREATE TABLE used_nonces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    nonce_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE (client_id, nonce_hash)
);
CREATE INDEX used_nonces_expires_at ON used_nonces (expires_at);
