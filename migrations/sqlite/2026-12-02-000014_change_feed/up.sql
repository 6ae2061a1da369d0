-- The change feed: every write that can make a cached answer wrong adds a row here, from a
-- trigger, so no code path (an instance, a CLI command, a hand-typed UPDATE) can forget it.
-- Instances poll `seq > last`; SQLite's single writer makes seq order commit order.
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    ref_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX changes_created_at ON changes (created_at);

-- A token's revocation, rotation (used_at) or any other update; a deletion only while it
-- could still be valid (cleartokens removes expired and revoked rows without a change each).
CREATE TRIGGER tokens_changed AFTER UPDATE ON tokens BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('token', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER tokens_deleted AFTER DELETE ON tokens
WHEN OLD.revoked_at IS NULL AND OLD.expires_at > CAST(strftime('%s', 'now') AS INTEGER) BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('token', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER clients_changed AFTER UPDATE ON clients BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('client', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER clients_deleted AFTER DELETE ON clients BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('client', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER users_changed AFTER UPDATE ON users BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('user', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER users_deleted AFTER DELETE ON users BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('user', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER consents_changed AFTER UPDATE ON consents BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('consent', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER consents_deleted AFTER DELETE ON consents BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('consent', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER scopes_added AFTER INSERT ON scopes BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('scope', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER scopes_changed AFTER UPDATE ON scopes BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('scope', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER scopes_deleted AFTER DELETE ON scopes BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('scope', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- A failed client authentication: the throttle's cached clean bills no longer hold.
CREATE TRIGGER client_auth_failed AFTER INSERT ON login_attempts
WHEN NEW.kind = 'client_secret' BEGIN
    INSERT INTO changes (kind, ref_id, created_at)
    VALUES ('client_auth_failure', 0, CAST(strftime('%s', 'now') AS INTEGER));
END;
