//! scopegate: an OAuth 2 authorization server for poem apps.
//!
//! The protocol lives in [`core`], storage in [`store`], the HTTP surface in [`web`], and the
//! command line a host app hands over to in [`manage`]. A service that is not the authorization
//! server guards its handlers through [`resource_server`].

#[doc(hidden)]
pub mod __private;
pub mod core;
#[cfg(feature = "server")]
pub mod manage;
pub mod registry;
pub mod resource_server;
#[cfg(feature = "server")]
pub mod settings;
#[cfg(feature = "server")]
pub mod store;
pub mod web;

#[cfg(feature = "server")]
pub use manage::Scopegate;
pub use scopegate_macros::{oauth_api, oauth_required};
pub use web::guard::Caller;
pub use web::openapi::ApiCaller;
