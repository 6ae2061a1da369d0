//! ID-token signing keys.

use async_trait::async_trait;
use diesel::prelude::*;

use super::DbStore;
use super::schema::signing_keys;
use crate::core::oidc::keys::StoredKey;
use crate::core::store::{KeyStore, StoreError};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
struct KeyRow {
    kid: String,
    alg: String,
    sealed_private_key: String,
    public_jwk: String,
    signs_from: i64,
    publish_until: Option<i64>,
    created_at: i64,
}

impl From<KeyRow> for StoredKey {
    fn from(r: KeyRow) -> Self {
        StoredKey {
            kid: r.kid,
            alg: r.alg,
            sealed_private_key: r.sealed_private_key,
            public_jwk: r.public_jwk,
            signs_from: r.signs_from,
            publish_until: r.publish_until,
            created_at: r.created_at,
        }
    }
}

impl From<StoredKey> for KeyRow {
    fn from(k: StoredKey) -> Self {
        KeyRow {
            kid: k.kid,
            alg: k.alg,
            sealed_private_key: k.sealed_private_key,
            public_jwk: k.public_jwk,
            signs_from: k.signs_from,
            publish_until: k.publish_until,
            created_at: k.created_at,
        }
    }
}

#[async_trait]
impl KeyStore for DbStore {
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        self.run(|conn| {
            Ok(signing_keys::table
                .order(signing_keys::id)
                .select(KeyRow::as_select())
                .load(conn)?
                .into_iter()
                .map(StoredKey::from)
                .collect())
        })
        .await
    }

    async fn rotate_signing_keys(
        &self,
        keys: Vec<StoredKey>,
        retire_at: i64,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            conn.transaction(|conn| {
                diesel::update(signing_keys::table.filter(signing_keys::publish_until.is_null()))
                    .set(signing_keys::publish_until.eq(retire_at))
                    .execute(conn)?;
                for key in keys {
                    diesel::insert_into(signing_keys::table)
                        .values(KeyRow::from(key))
                        .execute(conn)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn add_signing_keys(&self, keys: Vec<StoredKey>) -> Result<(), StoreError> {
        self.run(move |conn| {
            for key in keys {
                let added = diesel::insert_into(signing_keys::table)
                    .values(KeyRow::from(key))
                    .execute(conn);
                match added {
                    // The partial unique index `signing_keys_one_unretired`: another instance
                    // added this algorithm's key first.
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => {}
                    other => {
                        other?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn prune_signing_keys(&self, now: i64) -> Result<u64, StoreError> {
        self.run(move |conn| {
            let n = diesel::delete(signing_keys::table.filter(signing_keys::publish_until.le(now)))
                .execute(conn)?;
            Ok(n as u64)
        })
        .await
    }
}
