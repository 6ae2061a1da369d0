use poem::handler;
use scopegate::oauth_required;

#[handler]
#[oauth_required(scope = "polls:vote")]
fn vote() {}

fn main() {}
