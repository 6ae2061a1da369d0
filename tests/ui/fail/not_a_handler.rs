use scopegate::oauth_required;

#[oauth_required(scope = "polls:vote")]
fn vote() {}

fn main() {}
