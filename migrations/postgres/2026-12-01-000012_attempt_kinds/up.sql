-- One throttle table for every credential guessed at: `password` (the /login page and the
-- password grant, subject = username) and `client_secret` (failed client authentication,
-- subject = client_id). Rows written by an older release are password attempts.
ALTER TABLE login_attempts ADD COLUMN kind TEXT NOT NULL DEFAULT 'password';
CREATE INDEX login_attempts_kind_subject ON login_attempts(kind, username, created_at);
CREATE INDEX login_attempts_kind_ip ON login_attempts(kind, client_ip, created_at);
