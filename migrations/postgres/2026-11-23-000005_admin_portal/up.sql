-- Issue 5: developer-portal profiles, team members, the admin audit log, and single-use form
-- nonces (double-submit protection).
CREATE TABLE client_profiles (
    client_id BIGINT PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    logo_url TEXT NOT NULL DEFAULT '',
    homepage_url TEXT NOT NULL DEFAULT '',
    privacy_url TEXT NOT NULL DEFAULT '',
    terms_agreed_at BIGINT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE client_members (
    id BIGSERIAL PRIMARY KEY,
    client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    UNIQUE (client_id, user_id)
);
CREATE INDEX client_members_user_id ON client_members(user_id);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    actor_id BIGINT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_created_at ON audit_log(created_at);

CREATE TABLE form_submissions (
    id BIGSERIAL PRIMARY KEY,
    nonce_hash TEXT NOT NULL UNIQUE,
    result TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
