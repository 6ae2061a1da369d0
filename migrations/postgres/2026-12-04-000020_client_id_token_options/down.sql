DROP INDEX signing_keys_one_unretired;
ALTER TABLE clients DROP COLUMN subject_type;
ALTER TABLE clients DROP COLUMN id_token_signed_response_alg;
