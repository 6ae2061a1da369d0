-- OpenID Connect: ID-token signing keys (the private half sealed with AES-256-GCM under the
-- key_encryption_key setting; never stored plain), the nonce and sign-in time an ID token
-- states, and the identity scopes. Additive only, so a running older release keeps working.
CREATE TABLE signing_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kid TEXT NOT NULL UNIQUE,
    alg TEXT NOT NULL,
    sealed_private_key TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    signs_from BIGINT NOT NULL,
    publish_until BIGINT,
    created_at BIGINT NOT NULL
);
ALTER TABLE auth_codes ADD COLUMN nonce TEXT;
ALTER TABLE auth_codes ADD COLUMN auth_time BIGINT;
ALTER TABLE pending_authorizations ADD COLUMN nonce TEXT;
INSERT INTO scopes (name, description, from_code, created_at) VALUES
    ('openid', 'Sign you in: confirm who you are', 0, 0),
    ('profile', 'See your name and username', 0, 0),
    ('email', 'See your email address', 0, 0)
ON CONFLICT (name) DO NOTHING;
