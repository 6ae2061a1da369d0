use scopegate::oauth_required;

#[oauth_required(scope = "polls:vote")]
struct Vote;

fn main() {}
