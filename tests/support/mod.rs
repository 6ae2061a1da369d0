//! Test support: a real scopegate server on a real socket over a throwaway database (a SQLite
//! file, or a PostgreSQL database created for the test and dropped after it).
// Each binary that includes the support (the tests, the benchmark) uses a part of it.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod db;
mod flow;
mod server;

pub use browser::{Browser, element_text, hidden_field, query_of, slashes, words};
pub use db::{Backend, TestDb, pg_base};
pub use flow::{exchange_code, introspect, is_active, issue_access_token};
pub use server::{
    ClientSpec, Instance, TestClient, TestServer, edited, free_port, get_json, http, rotate_keys,
    valid,
};
