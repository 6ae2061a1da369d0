use poem::handler;
use scopegate::oauth_required;

#[oauth_required(scopes = "polls:vote")]
#[handler]
fn vote() {}

fn main() {}
