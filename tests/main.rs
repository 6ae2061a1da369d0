//! Integration tests: real HTTP to a real server over real SQLite and PostgreSQL.
//! One test binary (each area is a module) keeps linking fast.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod admin;
mod browser;
mod cleartokens;
mod cli;
mod clients;
mod code_flow;
mod conformance;
mod grants;
mod lifecycle;
mod portal;
mod portal_store;
mod userinfo;
mod walkthroughs;
mod webdriver;
