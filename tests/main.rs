//! Integration tests: real HTTP to a real server over real SQLite and PostgreSQL.
//! One test binary (each area is a module) keeps linking fast.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod conformance;

// The polls demo's module, compiled into the tests so they drive the real demo routes and its
// guarded handlers land in this binary's registry.
#[path = "../examples/polls/polls.rs"]
#[allow(dead_code)]
mod polls;

mod guards;
mod openapi;
mod syncscopes;
mod ui;
