//! Integration tests: real HTTP to a real server over real SQLite and PostgreSQL.
//! One test binary (each area is a module) keeps linking fast.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod account;
mod admin;
mod admin_dashboard;
mod browser;
mod cleartokens;
mod cli;
mod cli_exit;
mod client_rules;
mod clients;
mod code_flow;
mod conformance;
mod durability;
mod feed;
mod grants;
mod guard_order;
mod guards;
mod health;
mod input_bounds;
mod issuer;
mod lifecycle;
mod log_injection;
mod login_redirect;
mod metrics;
mod oidc;
mod openapi;
mod permissions;
mod portal;
mod portal_store;
mod refresh_grace;
mod resource_server;
mod revocation_races;
mod rolling_upgrade;
mod serve_before_db;
mod syncscopes;
mod throttle;
mod timeouts;
mod tls;
mod token_events;
mod ui;
mod userinfo;
mod walkthroughs;
mod webdriver;

// The polls demo's module, compiled into the tests so they drive the real demo routes and its
// guarded handlers land in this binary's registry.
#[path = "../examples/polls/polls.rs"]
#[allow(dead_code)]
mod polls;
