//! The one way the store ends many tokens at once: a family (replay, RFC 7009 on a refresh
//! token), everything of a user or a client (admin "revoke all", rejection), or everything a
//! consent backed (withdrawal).
//!
//! A single `UPDATE` loses a race with a concurrent rotation or code redemption on PostgreSQL:
//! the rows that transaction inserts are not in the `UPDATE`'s snapshot, so a chain revoked
//! "while" it rotates lives on. So the work runs in passes, each a fresh statement with a fresh
//! snapshot, until a pass finds nothing left. A rotation (or redemption) that held a row lock
//! during one pass has committed when that pass ends, and the next pass sees what it inserted;
//! one that comes later finds its refresh token revoked (or its code deleted) and issues
//! nothing. SQLite serializes writers, so its first pass already sees everything.

use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{BigInt, Text};

use super::AnyConnection;
use crate::core::store::StoreError;

type Backend = <AnyConnection as Connection>::Backend;
type Query<'a> = BoxedSqlQuery<'a, Backend, diesel::query_builder::SqlQuery>;

/// Whose live tokens a revocation ends.
#[derive(Debug, Clone)]
pub(super) enum Owner {
    /// Every token of one grant family.
    Family(String),
    /// Every token and unredeemed code of a user.
    User(i64),
    /// Every token and unredeemed code of a client.
    Client(i64),
    /// Every token and unredeemed code of one user at one client (a withdrawn consent).
    Consent {
        /// The user who consented.
        user_id: i64,
        /// The client they consented to.
        client_id: i64,
    },
}

impl Owner {
    /// The row condition, with the owner's values as `$first` (and `$first + 1`). Placeholders
    /// must appear in increasing order: SQLite numbers `$name` parameters by first appearance.
    fn condition(&self, first: usize) -> String {
        match self {
            Owner::Family(_) => format!("grant_id = ${first}"),
            Owner::User(_) => format!("user_id = ${first}"),
            Owner::Client(_) => format!("client_id = ${first}"),
            Owner::Consent { .. } => format!("user_id = ${first} AND client_id = ${}", first + 1),
        }
    }

    fn bind<'a>(&'a self, q: Query<'a>) -> Query<'a> {
        match self {
            Owner::Family(grant_id) => q.bind::<Text, _>(grant_id.as_str()),
            Owner::User(id) | Owner::Client(id) => q.bind::<BigInt, _>(*id),
            Owner::Consent { user_id, client_id } => {
                q.bind::<BigInt, _>(*user_id).bind::<BigInt, _>(*client_id)
            }
        }
    }

    /// Unredeemed codes end with the tokens, except for a family: its code is already spent.
    fn ends_codes(&self) -> bool {
        !matches!(self, Owner::Family(_))
    }
}

/// Revokes every live token of `owner` (and deletes its unredeemed codes), in passes until none
/// is left; returns how many tokens and codes it ended.
pub(super) fn revoke_all(
    conn: &mut AnyConnection,
    owner: &Owner,
    now: i64,
) -> Result<u64, StoreError> {
    let cond = owner.condition(1);
    let lock =
        format!("SELECT id FROM tokens WHERE {cond} AND revoked_at IS NULL ORDER BY id FOR UPDATE");
    let update = format!(
        "UPDATE tokens SET revoked_at = $1 WHERE {} AND revoked_at IS NULL",
        owner.condition(2)
    );
    let delete = format!("DELETE FROM auth_codes WHERE {cond} AND used_at IS NULL");
    let mut total = 0u64;
    // At least two passes: a redemption that held its code's lock during the first pass leaves
    // that pass with nothing changed, and its tokens are seen by the second. Bounded: a pass
    // finds work only while another transaction keeps issuing to this owner.
    for pass in 0..64 {
        let n = conn.transaction(|conn| {
            // Codes first: waiting here for a redemption lets this pass's token statement see
            // what the redemption issued.
            let codes = if owner.ends_codes() {
                owner
                    .bind(diesel::sql_query(delete.as_str()).into_boxed())
                    .execute(conn)?
            } else {
                0
            };
            if let AnyConnection::Postgresql(_) = conn {
                // Lock in id order, the order a rotation locks its refresh token and then the
                // access token beside it, so the two cannot deadlock.
                owner
                    .bind(diesel::sql_query(lock.as_str()).into_boxed())
                    .execute(conn)?;
            }
            let tokens = owner
                .bind(
                    diesel::sql_query(update.as_str())
                        .into_boxed()
                        .bind::<BigInt, _>(now),
                )
                .execute(conn)?;
            Ok::<_, diesel::result::Error>(tokens + codes)
        })?;
        total = total.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        if n == 0 && pass >= 1 {
            break;
        }
    }
    Ok(total)
}
