//! Health endpoints: liveness always, readiness only while the database answers and carries
//! every migration; both over plain HTTP even with debug off, as load balancers probe.

use diesel::{Connection, PgConnection, RunQueryDsl};
use poem::Route;
use serde_json::Value;

use crate::both_backends;
use crate::support::{Backend, TestServer, http, pg_base};

async fn get(server: &TestServer, path: &str) -> (u16, Value, Option<String>) {
    let resp = http().get(server.url(path)).send().await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, resp.json().await.unwrap_or(Value::Null), retry)
}

both_backends! {
    async fn ready_follows_the_migrations_and_answers_over_plain_http(db: Backend) {
        // debug off: every other page over plain HTTP is refused, the probes are not.
        let server = TestServer::start_with(db, |s| s.debug = false, Route::new()).await;
        assert_eq!(get(&server, "/health/alive").await.0, 200);
        let (status, body, _) = get(&server, "/health/ready").await;
        assert_eq!((status, body["status"].as_str()), (200, Some("ok")), "{body}");
        assert_eq!(http().get(server.url("/login")).send().await.unwrap().status(), 400);

        // Forget the newest migration: the instance is not ready, and says why.
        server.db.exec_sql("CREATE TABLE kept_migration AS SELECT * FROM __diesel_schema_migrations \
                       WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)");
        server.db.exec_sql("DELETE FROM __diesel_schema_migrations \
                       WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)");
        let (status, body, retry) = get(&server, "/health/ready").await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["reason"], "1 database migrations are not applied");
        assert!(retry.is_some());
        server.db.exec_sql("INSERT INTO __diesel_schema_migrations SELECT * FROM kept_migration");
        assert_eq!(get(&server, "/health/ready").await.0, 200);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_while_postgres_refuses_connections_and_200_after() {
    let server = TestServer::start(Backend::Postgres).await;
    assert_eq!(get(&server, "/health/ready").await.0, 200);
    let name = server.db.url.rsplit('/').next().unwrap().to_owned();
    let admin = |sql: String| {
        std::thread::spawn(move || {
            let mut c = PgConnection::establish(&format!("{}/postgres", pg_base())).unwrap();
            diesel::sql_query(sql).execute(&mut c).unwrap();
        })
        .join()
        .unwrap()
    };
    admin(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"));
    admin(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let started = std::time::Instant::now();
    let (status, body, _) = get(&server, "/health/ready").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "a probe answers quickly"
    );
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no connection detail: {body}"
    );
    admin(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"));
    let mut back = false;
    for _ in 0..40 {
        if get(&server, "/health/ready").await.0 == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(back, "ready again once the database accepts connections");
    server.stop().await;
}
