-- OpenID Connect client metadata (Core §8, Registration §2): the algorithm a client's ID tokens
-- are signed with, and whether its users get a public or a pairwise `sub`.
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256';
ALTER TABLE clients ADD COLUMN subject_type TEXT NOT NULL DEFAULT 'public';
-- One unretired key per algorithm, so instances that start together and each make the first key
-- of an algorithm keep one. Two unretired keys of one algorithm could only come from such a race
-- before this index: the older ones are retired an ID-token lifetime from now.
UPDATE signing_keys SET publish_until = CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) + 3600
WHERE publish_until IS NULL
  AND id NOT IN (SELECT MAX(id) FROM signing_keys WHERE publish_until IS NULL GROUP BY alg);
CREATE UNIQUE INDEX signing_keys_one_unretired ON signing_keys (alg) WHERE publish_until IS NULL;
