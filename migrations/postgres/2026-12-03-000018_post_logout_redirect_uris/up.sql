-- RP-initiated logout: where a client may send the browser after signing out, space-separated
-- and compared exactly, like redirect_uris.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
