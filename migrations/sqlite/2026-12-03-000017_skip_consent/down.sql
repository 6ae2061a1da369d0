ALTER TABLE clients DROP COLUMN skip_consent;
