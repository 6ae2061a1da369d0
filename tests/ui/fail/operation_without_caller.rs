use poem_openapi::{OpenApi, payload::PlainText};
use scopegate::oauth_required;

struct Api;

#[OpenApi]
impl Api {
    /// See voting statistics.
    #[oauth_required(scope = "polls:stats")]
    #[oai(path = "/stats", method = "get")]
    async fn stats(&self) -> poem::Result<PlainText<String>> {
        Ok(PlainText(String::new()))
    }
}

fn main() {}
