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

/// Rows (of a join with `users` and `clients`) whose user's name or email, or client's name or
/// public id, matches.
macro_rules! user_or_client {
    ($p:expr) => {
        $crate::store::search::matching!(
            $p,
            $crate::store::schema::users::username,
            $crate::store::schema::users::email,
            $crate::store::schema::clients::name,
            $crate::store::schema::clients::client_id
        )
    };
}
pub(super) use user_or_client;

/// One page of a listing, with the count of every row that matches: the rows of `from` that
/// pass `filter`, in `order`, selected as `select` and turned into `into` (or `try_into`, when
/// a row may be corrupt) items. Evaluates to `Result<Page<_>, StoreError>`.
macro_rules! paged {
    ($conn:expr, $q:expr, from: $from:expr, filter: $filter:expr, order: $order:expr,
     select: $row:ty, into: $item:ty) => {
        $crate::store::search::paged!(@page $conn, $q, $from, $filter, $order, $row,
            |rows: Vec<$row>| Ok(rows.into_iter().map(<$item>::from).collect()))
    };
    ($conn:expr, $q:expr, from: $from:expr, filter: $filter:expr, order: $order:expr,
     select: $row:ty, try_into: $item:ty) => {
        $crate::store::search::paged!(@page $conn, $q, $from, $filter, $order, $row,
            |rows: Vec<$row>| rows.into_iter().map(<$item>::try_from).collect())
    };
    (@page $conn:expr, $q:expr, $from:expr, $filter:expr, $order:expr, $row:ty, $items:expr) => {{
        let total: i64 = $from.filter($filter.clone()).count().get_result($conn)?;
        let rows = $from
            .filter($filter)
            .order($order)
            .offset($q.offset)
            .limit($q.limit)
            .select(<$row>::as_select())
            .load::<$row>($conn)?;
        let items: Result<_, $crate::core::store::StoreError> = ($items)(rows);
        Ok($crate::core::portal::Page {
            items: items?,
            total,
        })
    }};
}
pub(super) use paged;
