//! What the admin and portal listings share: a case-insensitive substring search over text
//! columns, the same on both backends.

use diesel::sql_types::{Nullable, Text};

diesel::define_sql_function! {
    /// SQL `lower()`, the same on both backends (PostgreSQL's `LIKE` is case-sensitive).
    fn lower(x: Text) -> Text;
}

diesel::define_sql_function! {
    /// SQL `lower()` over a nullable column (a left-joined one).
    #[sql_name = "lower"]
    fn lower_n(x: Nullable<Text>) -> Nullable<Text>;
}

/// A `LIKE` pattern matching `search` anywhere, with the wildcards in it taken literally.
pub(super) fn pattern(search: &str) -> String {
    let escaped = search
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Rows matching a search over the given text columns: `lower(col) LIKE pattern` or-ed together.
macro_rules! matching {
    ($p:expr, $first:expr $(, $more:expr)*) => {
        $crate::store::search::lower($first).like($p.clone()).escape('\\')
            $(.or($crate::store::search::lower($more).like($p.clone()).escape('\\')))*
    };
}
pub(super) use matching;
