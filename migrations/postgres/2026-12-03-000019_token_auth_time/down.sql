ALTER TABLE tokens DROP COLUMN auth_time;
