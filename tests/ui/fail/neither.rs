use poem::handler;
use scopegate::oauth_required;

#[oauth_required]
#[handler]
fn vote() {}

fn main() {}
