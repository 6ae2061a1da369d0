-- A client's access-token format (opaque, or RFC 9068 JWTs), and the resource (RFC 8707) that an
-- authorization request, its code and its tokens are for: a JWT's `aud`, and introspection's.
ALTER TABLE clients ADD COLUMN access_token_format TEXT NOT NULL DEFAULT 'opaque';
ALTER TABLE pending_authorizations ADD COLUMN resource TEXT;
ALTER TABLE auth_codes ADD COLUMN resource TEXT;
ALTER TABLE tokens ADD COLUMN resource TEXT;
