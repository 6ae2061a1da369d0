-- Password-grant attempts in flight or failed, for throttling per username and per client address.
-- Kept in the database so every scopegate instance sees the same counts.
CREATE TABLE login_attempts (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX login_attempts_username ON login_attempts(username, created_at);
CREATE INDEX login_attempts_client_ip ON login_attempts(client_ip, created_at);
