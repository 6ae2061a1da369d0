//! A guarded operation in an impl without `#[oauth_api]`: `#[OpenApi]` would extract every
//! parameter before any check the method could make, so this must not compile.
use poem_openapi::{OpenApi, payload::PlainText};
use scopegate::oauth_required;
use scopegate::web::openapi::ApiCaller;

struct Api;

#[OpenApi]
impl Api {
    /// See voting statistics.
    #[oauth_required(scope = "polls:stats")]
    #[oai(path = "/stats", method = "get")]
    async fn stats(&self, caller: ApiCaller) -> poem::Result<PlainText<String>> {
        Ok(PlainText(caller.client_id().to_owned()))
    }
}

fn main() {}
