//! `#[oauth_api]` must expand before `#[OpenApi]`, so it goes above it.
use poem_openapi::{OpenApi, payload::PlainText};
use scopegate::{ApiCaller, oauth_api, oauth_required};

struct Api;

#[OpenApi]
#[oauth_api]
impl Api {
    /// See voting statistics.
    #[oauth_required(scope = "polls:stats")]
    #[oai(path = "/stats", method = "get")]
    async fn stats(&self, caller: ApiCaller) -> poem::Result<PlainText<String>> {
        Ok(PlainText(caller.client_id().to_owned()))
    }
}

fn main() {}
