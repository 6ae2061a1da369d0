//! scopegate: an OAuth 2 authorization server for poem apps.
//!
//! The protocol lives in [`core`], storage in [`store`], the HTTP surface in [`web`], and the
//! command line a host app hands over to in [`manage`]. A service that is not the authorization
//! server guards its handlers through [`resource_server`].

#[doc(hidden)]
pub mod __private;
pub mod core;
pub mod manage;
pub mod registry;
pub mod resource_server;
pub mod settings;
pub mod store;
pub mod web;

pub use manage::Scopegate;
pub use scopegate_macros::{oauth_api, oauth_required};
pub use web::guard::Caller;
pub use web::openapi::ApiCaller;
