//! trybuild cases for `#[oauth_required]`: accepted forms compile and work; every misuse is a
//! compile error whose message is pinned in `tests/ui/fail/*.stderr`.

#[test]
fn oauth_required_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
