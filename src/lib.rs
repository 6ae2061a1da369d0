//! scopegate: an OAuth 2 authorization server for poem apps.
//!
//! The protocol lives in [`core`], storage in [`store`], the HTTP surface in [`web`], and the
//! command line a host app hands over to in [`manage`].

pub mod core;
pub mod manage;
pub mod settings;
pub mod store;
pub mod web;

pub use manage::Scopegate;
pub use scopegate_macros::oauth_required;
