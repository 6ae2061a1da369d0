-- Graceful refresh rotation (refresh_reuse_grace): a refresh token records the token it was
-- rotated from, and a spent one counts how often it was spent again within the grace window.
ALTER TABLE tokens ADD COLUMN parent_id BIGINT REFERENCES tokens(id) ON DELETE SET NULL;
ALTER TABLE tokens ADD COLUMN reuse_count BIGINT NOT NULL DEFAULT 0;
CREATE INDEX tokens_parent_id ON tokens(parent_id);
