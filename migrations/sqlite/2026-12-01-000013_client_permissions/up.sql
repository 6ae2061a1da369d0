-- Per-client permissions an administrator grants: a resource server may introspect and revoke
-- any client's tokens; a legacy public client may skip PKCE on oauthost's /auth/ route.
ALTER TABLE clients ADD COLUMN resource_server BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN allow_public_without_pkce BOOLEAN NOT NULL DEFAULT FALSE;
