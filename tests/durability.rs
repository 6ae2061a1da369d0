//! Nothing a client was given is lost on a crash: `kill -9` of a `scopegate serve` process while
//! 16 clients request tokens, then a restart; every token that was answered with a 200 is still
//! active by introspection (a token is returned only after its row is committed).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use scopegate::core::model::GrantType;

use crate::both_backends;
use crate::support::{ClientSpec, Instance, TestServer, free_port, http};

both_backends! {
    async fn a_token_answered_with_200_survives_a_kill_9_of_the_server(db: Backend) {
        let setup = TestServer::start(db).await;
        let c = setup
            .client(ClientSpec {
                grants: vec![GrantType::ClientCredentials],
                ..ClientSpec::default()
            })
            .await;
        let secret = c.secret.clone().unwrap();
        let port = free_port();
        let server = Instance::start_on(port, &setup.db.url, &[]).await;
        let token_url = server.url("/oauth/token");

        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..16)
            .map(|_| {
                let (url, id, secret, stop) = (token_url.clone(), c.client_id.clone(), secret.clone(), stop.clone());
                tokio::spawn(async move {
                    let http = http();
                    let mut got = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let sent = http
                            .post(&url)
                            .basic_auth(&id, Some(&secret))
                            .form(&[("grant_type", "client_credentials"), ("scope", "polls:stats")])
                            .send()
                            .await;
                        // Once the server is gone, requests fail: only 200s count.
                        let Ok(resp) = sent else { continue };
                        if resp.status() != 200 {
                            continue;
                        }
                        if let Ok(body) = resp.json::<serde_json::Value>().await
                            && let Some(token) = body["access_token"].as_str()
                        {
                            got.push(token.to_owned());
                        }
                    }
                    got
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        drop(server); // SIGKILL, mid-load: no shutdown, no drain.
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, Ordering::Relaxed);
        let mut answered = Vec::new();
        for client in clients {
            answered.extend(client.await.unwrap());
        }
        assert!(answered.len() >= 50, "the load issued only {} tokens", answered.len());

        let restarted = Instance::start_on(port, &setup.db.url, &[]).await;
        let checks = answered.chunks(answered.len().div_ceil(8)).map(|chunk| {
            let (url, id, secret, chunk) = (restarted.url("/oauth/introspect"), c.client_id.clone(), secret.clone(), chunk.to_vec());
            tokio::spawn(async move {
                let http = http();
                let mut lost = Vec::new();
                for token in chunk {
                    let resp = http.post(&url).basic_auth(&id, Some(&secret)).form(&[("token", token.as_str())]).send().await.unwrap();
                    let said: serde_json::Value = resp.json().await.unwrap();
                    if said["active"] != true {
                        lost.push(token);
                    }
                }
                lost
            })
        });
        let mut lost = Vec::new();
        for check in checks.collect::<Vec<_>>() {
            lost.extend(check.await.unwrap());
        }
        assert!(lost.is_empty(), "{} of {} answered tokens were lost", lost.len(), answered.len());
        drop(restarted);
        setup.stop().await;
    }
}
