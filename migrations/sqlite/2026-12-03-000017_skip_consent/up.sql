-- A first-party app an administrator trusts: its users are never shown the consent page.
ALTER TABLE clients ADD COLUMN skip_consent BOOLEAN NOT NULL DEFAULT FALSE;
