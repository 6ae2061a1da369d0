DROP TABLE used_nonces;
