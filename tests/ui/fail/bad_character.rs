use poem::handler;
use scopegate::oauth_required;

#[oauth_required(scope = "polls:vöte")]
#[handler]
fn vote() {}

fn main() {}
