ALTER TABLE tokens DROP COLUMN resource;
ALTER TABLE pending_authorizations DROP COLUMN resource;
ALTER TABLE auth_codes DROP COLUMN resource;
ALTER TABLE clients DROP COLUMN access_token_format;
