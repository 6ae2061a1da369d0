-- The change feed: every write that can make a cached answer wrong is announced by a trigger
-- on channel `scopegate_changes`, as "kind:id", so no code path (an instance, a CLI command, a
-- hand-typed UPDATE) can forget it. A second argument announces that fixed id instead of the
-- row's. NOTIFY is delivered at commit, in commit order, to every
-- listening session (the writer's own included).
CREATE FUNCTION scopegate_publish() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_id BIGINT;
BEGIN
    IF TG_NARGS > 1 THEN
        row_id := TG_ARGV[1]::BIGINT;
    ELSIF TG_OP = 'DELETE' THEN
        row_id := OLD.id;
    ELSE
        row_id := NEW.id;
    END IF;
    PERFORM pg_notify('scopegate_changes', TG_ARGV[0] || ':' || row_id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER tokens_changed AFTER UPDATE ON tokens
    FOR EACH ROW EXECUTE FUNCTION scopegate_publish('token');
-- Only while it could still be valid: cleartokens removes expired and revoked rows quietly.
CREATE TRIGGER tokens_deleted AFTER DELETE ON tokens FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND OLD.expires_at > extract(epoch FROM now()))
    EXECUTE FUNCTION scopegate_publish('token');
CREATE TRIGGER clients_changed AFTER UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION scopegate_publish('client');
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION scopegate_publish('user');
CREATE TRIGGER consents_changed AFTER UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION scopegate_publish('consent');
CREATE TRIGGER scopes_changed AFTER INSERT OR UPDATE OR DELETE ON scopes
    FOR EACH ROW EXECUTE FUNCTION scopegate_publish('scope');
-- A failed client authentication: the throttle's cached clean bills no longer hold.
CREATE TRIGGER client_auth_failed AFTER INSERT ON login_attempts FOR EACH ROW
    WHEN (NEW.kind = 'client_secret')
    EXECUTE FUNCTION scopegate_publish('client_auth_failure', '0');
