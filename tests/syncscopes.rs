//! `syncscopes`: idempotent, `--dry-run` writes nothing, descriptions update, `--prune` removes
//! only scopes it created, APP filters, bad input exits 2.

use std::collections::BTreeMap;

use scopegate::manage::syncscopes::sync;

use crate::both_backends;
use crate::support::{Backend, TestServer};

fn registry(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The scopes in the database, except OpenID Connect's, which the migrations install.
async fn names(server: &TestServer) -> Vec<(String, String, bool)> {
    server
        .store()
        .list_scopes()
        .await
        .unwrap()
        .into_iter()
        .filter(|s| !is_identity(&s.name))
        .map(|s| (s.name, s.description, s.from_code))
        .collect()
}

fn is_identity(name: &str) -> bool {
    scopegate::core::oidc::IDENTITY_SCOPES.contains(&name)
}

both_backends! {
    async fn sync_is_idempotent_and_dry_run_writes_nothing(db: Backend) {
        let server = TestServer::start(db).await;
        let store = server.store();
        let reg = registry(&[("polls:vote", "Vote in polls."), ("polls:stats", "See statistics."), ("shop:buy", "Buy.")]);

        let dry = sync(store.as_ref(), &reg, &[], true, false).await.unwrap();
        assert_eq!(dry.created.len(), 3);
        assert!(names(&server).await.is_empty(), "--dry-run wrote to the database");

        let first = sync(store.as_ref(), &reg, &["polls".into()], false, false).await.unwrap();
        assert_eq!(first.created, vec!["polls:stats", "polls:vote"]);
        assert_eq!(names(&server).await.len(), 2, "only the named app is touched");

        let again = sync(store.as_ref(), &reg, &["polls".into()], false, false).await.unwrap();
        assert!(!again.changed(), "second run changed something: {again:?}");
        assert_eq!(again.kept, vec!["polls:stats", "polls:vote"]);

        let all = sync(store.as_ref(), &reg, &[], false, false).await.unwrap();
        assert_eq!(all.created, vec!["shop:buy"]);
        server.stop().await;
    }

    async fn descriptions_update_and_prune_spares_hand_made_scopes(db: Backend) {
        let server = TestServer::start(db).await;
        let store = server.store();
        store.create_scope("polls:admin", "made by hand", false, 0).await.unwrap();
        let reg = registry(&[("polls:vote", "Vote."), ("polls:old", "Old.")]);
        sync(store.as_ref(), &reg, &[], false, false).await.unwrap();

        let reg = registry(&[("polls:vote", "Vote in polls.")]);
        let plan = sync(store.as_ref(), &reg, &[], true, true).await.unwrap();
        assert_eq!(plan.updated, vec!["polls:vote"]);
        assert_eq!(plan.removed, vec!["polls:old"]);
        assert_eq!(names(&server).await.len(), 3, "--dry-run --prune wrote");

        let done = sync(store.as_ref(), &reg, &[], false, true).await.unwrap();
        assert_eq!(done.updated, vec!["polls:vote"]);
        assert_eq!(done.removed, vec!["polls:old"]);
        let left = names(&server).await;
        assert_eq!(
            left,
            vec![
                ("polls:admin".to_owned(), "made by hand".to_owned(), false),
                ("polls:vote".to_owned(), "Vote in polls.".to_owned(), true),
            ]
        );
        let again = sync(store.as_ref(), &reg, &[], false, true).await.unwrap();
        assert!(!again.changed(), "{again:?}");
        let identity = store.list_scopes().await.unwrap().into_iter().filter(|s| is_identity(&s.name)).count();
        assert_eq!(identity, 3, "--prune spares openid, profile and email");
        server.stop().await;
    }
}

/// The command itself: bad input is a one-line error and exit code 2; a real run succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line_exit_codes() {
    let db = crate::support::TestDb::new(Backend::Sqlite);
    let url = db.url.clone();
    let codes = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let mut argv = vec!["polls", "--database-url", url.as_str(), "syncscopes"];
            argv.extend_from_slice(args);
            scopegate::Scopegate::new().run_with(argv.into_iter().map(std::ffi::OsString::from))
        };
        (
            run(&["no-such-app"]),
            run(&["bad\"app"]),
            run(&["--dry-run"]),
            run(&["polls", "--prune"]),
        )
    })
    .await
    .unwrap();
    let two = std::process::ExitCode::from(2);
    assert_eq!(codes.0, two);
    assert_eq!(codes.1, two);
    assert_eq!(codes.2, std::process::ExitCode::SUCCESS);
    assert_eq!(codes.3, std::process::ExitCode::SUCCESS);
}
