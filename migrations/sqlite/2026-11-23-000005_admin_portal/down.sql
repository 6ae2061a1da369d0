DROP TABLE form_submissions;
DROP TABLE audit_log;
DROP TABLE client_members;
DROP TABLE client_profiles;
