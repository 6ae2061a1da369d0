//! A guarded poem-openapi operation.
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
        Ok(PlainText(caller.client.name.clone()))
    }

    /// Derived scope on an operation.
    #[oauth_required(scope_auto)]
    #[oai(path = "/results", method = "get")]
    async fn results(&self, caller: ApiCaller) -> poem::Result<PlainText<String>> {
        Ok(PlainText(caller.scopes.to_string()))
    }
}

fn main() {
    let _ = poem_openapi::OpenApiService::new(Api, "t", "1");
}
