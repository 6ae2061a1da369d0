ALTER TABLE clients DROP COLUMN allow_public_without_pkce;
ALTER TABLE clients DROP COLUMN resource_server;
