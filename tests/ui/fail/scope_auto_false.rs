use poem::handler;
use scopegate::oauth_required;

#[oauth_required(scope_auto = false)]
#[handler]
fn vote() {}

fn main() {}
