DROP TABLE pending_authorizations;
DROP TABLE sessions;
DROP TABLE consents;
DROP TABLE tokens;
DROP TABLE auth_codes;
DROP TABLE scopes;
DROP TABLE clients;
DROP TABLE users;
