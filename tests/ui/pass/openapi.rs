//! Guarded poem-openapi operations: the caller first, later, or not taken at all; `Caller` or
//! `ApiCaller`; explicit and derived scopes; unguarded operations beside them.
use poem_openapi::param::Path;
use poem_openapi::{OpenApi, payload::PlainText};
use scopegate::web::openapi::ApiCaller;
use scopegate::{Caller, oauth_api, oauth_required};

struct Api;

#[oauth_api]
#[OpenApi]
impl Api {
    /// See voting statistics.
    #[oauth_required(scope = "polls:stats")]
    #[oai(path = "/stats", method = "get")]
    async fn stats(&self, caller: ApiCaller) -> poem::Result<PlainText<String>> {
        Ok(PlainText(caller.client_id().to_owned()))
    }

    /// Derived scope on an operation, the caller after another parameter.
    #[oauth_required(scope_auto)]
    #[oai(path = "/results/:id", method = "get")]
    async fn results(&self, id: Path<u64>, mut caller: Caller) -> PlainText<String> {
        caller = caller.clone();
        PlainText(format!("{} {}", id.0, caller.scopes()))
    }

    /// No caller needed.
    #[oauth_required(scope = "polls:vote")]
    #[oai(path = "/vote", method = "post")]
    async fn vote(&self) -> PlainText<&'static str> {
        PlainText("ok")
    }

    /// Not guarded.
    #[oai(path = "/open", method = "get")]
    async fn open(&self) -> PlainText<&'static str> {
        PlainText("open")
    }
}

fn main() {
    let _ = poem_openapi::OpenApiService::new(Api, "t", "1");
    use scopegate::__private::GuardSpec;
    let entry = __scopegate_guard_Api_results::entry();
    assert_eq!(entry.scopes().to_string(), format!("{}:results", module_path!()));
    assert_eq!(entry.kind, scopegate::registry::GuardKind::Operation);
}
