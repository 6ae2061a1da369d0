use poem::handler;
use scopegate::oauth_required;

#[oauth_required(scope = "polls\\vote")]
#[handler]
fn vote() {}

fn main() {}
