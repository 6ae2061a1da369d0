use poem::handler;
use scopegate::oauth_required;

#[oauth_required(scope = "polls:vote  polls:stats")]
#[handler]
fn vote() {}

fn main() {}
