use poem::handler;
use scopegate::oauth_required;

#[oauth_required(scope = "")]
#[handler]
fn vote() {}

fn main() {}
