DROP INDEX audit_log_people;
