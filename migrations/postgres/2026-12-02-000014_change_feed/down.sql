DROP TRIGGER client_auth_failed ON login_attempts;
DROP TRIGGER scopes_changed ON scopes;
DROP TRIGGER consents_changed ON consents;
DROP TRIGGER users_changed ON users;
DROP TRIGGER clients_changed ON clients;
DROP TRIGGER tokens_deleted ON tokens;
DROP TRIGGER tokens_changed ON tokens;
DROP FUNCTION scopegate_publish();
