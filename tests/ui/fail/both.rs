use poem::handler;
use scopegate::oauth_required;

#[oauth_required(scope = "polls:vote", scope_auto)]
#[handler]
fn vote() {}

fn main() {}
