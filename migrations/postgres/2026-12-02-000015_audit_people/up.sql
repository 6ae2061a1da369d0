-- Issue 11: the dashboard's "Recent actions" lists the lines people wrote (admin and portal
-- actions carry their actor_id), newest first, without walking past the token-lifecycle lines
-- the store writes at every issuance (actor_id NULL, so this partial index leaves them out).
CREATE INDEX audit_log_people ON audit_log (id) WHERE actor_id IS NOT NULL;
