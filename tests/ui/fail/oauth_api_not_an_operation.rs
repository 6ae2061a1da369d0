//! Inside an `#[oauth_api]` impl, `#[oauth_required]` goes on `#[oai]` operations only.
use poem_openapi::{OpenApi, payload::PlainText};
use scopegate::{oauth_api, oauth_required};

struct Api;

#[oauth_api]
#[OpenApi]
impl Api {
    /// See voting statistics.
    #[oai(path = "/stats", method = "get")]
    async fn stats(&self) -> PlainText<String> {
        PlainText(self.helper().await)
    }

    /// Not an operation.
    #[oauth_required(scope = "polls:stats")]
    async fn helper(&self) -> String {
        String::new()
    }
}

fn main() {}
