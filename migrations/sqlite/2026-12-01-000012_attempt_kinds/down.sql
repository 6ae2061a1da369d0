DROP INDEX login_attempts_kind_ip;
DROP INDEX login_attempts_kind_subject;
ALTER TABLE login_attempts DROP COLUMN kind;
