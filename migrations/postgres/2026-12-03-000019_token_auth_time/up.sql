-- When the user signed in for the grant a token belongs to, so a refresh can issue an ID token
-- that keeps the original auth_time (OpenID Connect Core §12.2). NULL for tokens of no sign-in.
ALTER TABLE tokens ADD COLUMN auth_time BIGINT;
