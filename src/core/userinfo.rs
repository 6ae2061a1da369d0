//! What `/oauth/userinfo` tells a client about the user, filtered by the token's scopes.
//!
//! The host application supplies the data through [`UserInfoProvider`] and declares which scope
//! unlocks each top-level field. A field it returns but does not declare is never sent, so a
//! forgotten declaration fails closed.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::model::{Client, User};
use super::oidc::Subjects;
use super::scope::ScopeSet;

/// The host's source of user data (e.g. Omniport's `person`, `student`, `contactInformation`).
#[async_trait]
pub trait UserInfoProvider: Send + Sync + 'static {
    /// `(field, scope)` pairs: the top-level field is sent only to tokens holding the scope.
    fn field_scopes(&self) -> Vec<(String, String)>;
    /// The user's extra fields. `userId` and `username` are always added by scopegate.
    async fn fields(&self, user: &User) -> Result<Map<String, Value>, String>;
}

/// The built-in provider: `email` under the scope `email`, nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultUserInfo;

#[async_trait]
impl UserInfoProvider for DefaultUserInfo {
    fn field_scopes(&self) -> Vec<(String, String)> {
        vec![("email".into(), "email".into())]
    }
    async fn fields(&self, user: &User) -> Result<Map<String, Value>, String> {
        let mut map = Map::new();
        map.insert("email".into(), Value::String(user.email.clone()));
        Ok(map)
    }
}

/// [`document`] with the claims of OpenID Connect Core §5.3.2: `sub`, always (the same as the
/// ID token's, from `subjects`), and `preferred_username` under `profile`.
pub async fn openid_document(
    provider: &dyn UserInfoProvider,
    user: &User,
    client: &Client,
    subjects: &Subjects,
    scope: &ScopeSet,
) -> Result<Value, String> {
    let sub = subjects.of(client, user.id).map_err(|e| e.to_string())?;
    let mut doc = document(provider, user, client, scope).await?;
    if let Value::Object(map) = &mut doc {
        map.insert("sub".into(), Value::String(sub));
        if scope.contains("profile") {
            map.insert(
                "preferred_username".into(),
                Value::String(user.username.clone()),
            );
        }
    }
    Ok(doc)
}

/// The document for `user` as seen by a token of `client` with `scope`: `userId` and
/// `username` (not for a [pairwise](Client::pairwise) client, whose users they would name),
/// then each provided field whose declared scope the token holds.
pub async fn document(
    provider: &dyn UserInfoProvider,
    user: &User,
    client: &Client,
    scope: &ScopeSet,
) -> Result<Value, String> {
    let declared = provider.field_scopes();
    let mut out = Map::new();
    if !client.pairwise() {
        out.insert("userId".into(), Value::from(user.id));
        out.insert("username".into(), Value::String(user.username.clone()));
    }
    for (field, value) in provider.fields(user).await? {
        let unlocked = declared
            .iter()
            .any(|(f, s)| *f == field && scope.contains(s));
        if unlocked && field != "userId" && field != "username" {
            out.insert(field, value);
        }
    }
    Ok(Value::Object(out))
}
