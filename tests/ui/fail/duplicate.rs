use poem::handler;
use scopegate::oauth_required;

#[oauth_required(scope = "polls:vote polls:stats polls:vote")]
#[handler]
fn vote() {}

fn main() {}
