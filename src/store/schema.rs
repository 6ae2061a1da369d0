//! Diesel table definitions, shared by both backends (times are unix seconds in BIGINT).
#![allow(missing_docs)]

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        is_superuser -> Bool,
        is_active -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    clients (id) {
        id -> BigInt,
        client_id -> Text,
        secret_hash -> Nullable<Text>,
        name -> Text,
        client_type -> Text,
        grant_types -> Text,
        redirect_uris -> Text,
        scopes -> Text,
        approval -> Text,
        rejection_reason -> Nullable<Text>,
        code_lifetime -> Nullable<BigInt>,
        access_token_lifetime -> Nullable<BigInt>,
        refresh_token_lifetime -> Nullable<BigInt>,
        owner_id -> Nullable<BigInt>,
        created_at -> BigInt,
        resource_server -> Bool,
        allow_public_without_pkce -> Bool,
        skip_consent -> Bool,
        post_logout_redirect_uris -> Text,
        id_token_signed_response_alg -> Text,
        subject_type -> Text,
        access_token_format -> Text,
    }
}

diesel::table! {
    scopes (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        from_code -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    auth_codes (id) {
        id -> BigInt,
        code_hash -> Text,
        client_id -> BigInt,
        user_id -> BigInt,
        redirect_uri -> Text,
        redirect_uri_given -> Bool,
        scope -> Text,
        code_challenge -> Nullable<Text>,
        code_challenge_method -> Nullable<Text>,
        grant_id -> Text,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        created_at -> BigInt,
        nonce -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        resource -> Nullable<Text>,
    }
}

diesel::table! {
    tokens (id) {
        id -> BigInt,
        token_hash -> Text,
        kind -> Text,
        client_id -> BigInt,
        user_id -> Nullable<BigInt>,
        scope -> Text,
        grant_id -> Text,
        refresh_id -> Nullable<BigInt>,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        created_at -> BigInt,
        parent_id -> Nullable<BigInt>,
        reuse_count -> BigInt,
        auth_time -> Nullable<BigInt>,
        resource -> Nullable<Text>,
    }
}

diesel::table! {
    consents (id) {
        id -> BigInt,
        user_id -> BigInt,
        client_id -> BigInt,
        scope -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        session_hash -> Text,
        user_id -> Nullable<BigInt>,
        csrf_token -> Text,
        expires_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    pending_authorizations (id) {
        id -> BigInt,
        nonce_hash -> Text,
        session_id -> BigInt,
        client_id -> BigInt,
        user_id -> BigInt,
        redirect_uri -> Text,
        redirect_uri_given -> Bool,
        scope -> Text,
        state -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        code_challenge_method -> Nullable<Text>,
        response_type -> Text,
        expires_at -> BigInt,
        created_at -> BigInt,
        nonce -> Nullable<Text>,
        resource -> Nullable<Text>,
    }
}

// The admin pages and the developer portal: client profiles and members, the audit log, and
// single-use form submissions.
diesel::table! {
    client_profiles (client_id) {
        client_id -> BigInt,
        description -> Text,
        logo_url -> Text,
        homepage_url -> Text,
        privacy_url -> Text,
        terms_agreed_at -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    client_members (id) {
        id -> BigInt,
        client_id -> BigInt,
        user_id -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_id -> Nullable<BigInt>,
        actor -> Text,
        action -> Text,
        target -> Text,
        detail -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    form_submissions (id) {
        id -> BigInt,
        nonce_hash -> Text,
        result -> Text,
        created_at -> BigInt,
    }
}

diesel::joinable!(tokens -> clients (client_id));
diesel::joinable!(tokens -> users (user_id));
diesel::joinable!(auth_codes -> clients (client_id));
diesel::joinable!(auth_codes -> users (user_id));
diesel::joinable!(consents -> clients (client_id));
diesel::joinable!(consents -> users (user_id));
diesel::joinable!(client_members -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    clients,
    auth_codes,
    tokens,
    consents,
    client_members,
    client_profiles,
);
diesel::table! {
    login_attempts (id) {
        id -> BigInt,
        username -> Text,
        client_ip -> Text,
        created_at -> BigInt,
        kind -> Text,
    }
}

diesel::table! {
    /// SQLite only: the change feed's rows (PostgreSQL announces changes with NOTIFY instead).
    changes (seq) {
        seq -> BigInt,
        kind -> Text,
        ref_id -> BigInt,
        created_at -> BigInt,
    }
}
diesel::table! {
    signing_keys (id) {
        id -> BigInt,
        kid -> Text,
        alg -> Text,
        sealed_private_key -> Text,
        public_jwk -> Text,
        signs_from -> BigInt,
        publish_until -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}
diesel::table! {
    used_nonces (id) {
        id -> BigInt,
        client_id -> BigInt,
        nonce_hash -> Text,
        expires_at -> BigInt,
    }
}
