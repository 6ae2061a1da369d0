//! Integration tests: real HTTP to a real server over real SQLite and PostgreSQL.
//! One test binary (each area is a module) keeps linking fast.

mod support;

mod conformance;
