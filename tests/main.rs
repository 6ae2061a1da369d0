//! Integration tests: real HTTP to a real server over real SQLite and PostgreSQL.
//! One test binary (each area is a module) keeps linking fast.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod cleartokens;
mod clients;
mod conformance;
mod grants;
mod lifecycle;
mod userinfo;
mod walkthroughs;
