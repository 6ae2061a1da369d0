//! TLS built in (`tls_cert`, `tls_key`), on `scopegate serve` in a process of its own with
//! certificates made by the `openssl` command: it serves HTTPS, the HTTPS rule holds without a
//! proxy, and `SIGHUP` swaps the certificate for new connections without dropping one that is
//! open, or keeps the current one when the new files do not load.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::support::{Backend, TestServer, free_port};

/// A self-signed certificate for `127.0.0.1`, made by `openssl`: (certificate, key) paths.
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-subj", &format!("/CN={name}"), "-days", "2"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        // A server certificate, not a CA (webpki refuses a CA certificate as the end entity).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command");
    assert!(status.success());
    (cert, key)
}

/// The DER bytes of a PEM certificate file.
fn der(cert: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(cert).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// A client trusting `roots`, reporting the certificate each connection was served.
fn client(roots: &[&Path]) -> reqwest::Client {
    // This build has two rustls providers (ring for reqwest, aws-lc-rs for the server): name one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut builder = reqwest::Client::builder().tls_info(true);
    for root in roots {
        let pem = std::fs::read(root).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// GETs `url`: the status and the DER certificate of the connection that answered.
async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let resp = client.get(url).send().await?;
    let cert = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .map(<[u8]>::to_vec)
        .expect("the peer certificate");
    let status = resp.status().as_u16();
    // Read to the end, so the connection goes back to the client's pool for the next request.
    resp.bytes().await?;
    Ok((status, cert))
}

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hangup(served: &Served) {
    let status = Command::new("kill")
        .args(["-HUP", &served.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn https_is_served_and_sighup_swaps_the_certificate_without_dropping_connections() {
    let db = TestServer::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let (a_cert, a_key) = certificate(dir.path(), "cert-a");
    let (b_cert, b_key) = certificate(dir.path(), "cert-b");
    let (live_cert, live_key) = (dir.path().join("live.crt"), dir.path().join("live.key"));
    std::fs::copy(&a_cert, &live_cert).unwrap();
    std::fs::copy(&a_key, &live_key).unwrap();
    let port = free_port();
    let base = format!("https://127.0.0.1:{port}");
    // debug off: the HTTPS rule is on, and this server satisfies it itself.
    let served = Served(
        Command::new(env!("CARGO_BIN_EXE_scopegate"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", &db.db.url)
            .env("SCOPEGATE_DEBUG", "false")
            .env("SCOPEGATE_ISSUER", &base)
            .env("SCOPEGATE_LOG", "warn")
            .env("SCOPEGATE_TLS_CERT", &live_cert)
            .env("SCOPEGATE_TLS_KEY", &live_key)
            .env_remove("SCOPEGATE_CONFIG")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let kept = client(&[&a_cert, &b_cert]);
    let alive = format!("{base}/health/alive");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, cert) = loop {
        match get(&kept, &alive).await {
            Ok(answer) => break answer,
            Err(e) => assert!(Instant::now() < deadline, "no HTTPS answer: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((status, cert == der(&a_cert)), (200, true));
    // The HTTPS rule: a protocol endpoint answers over this TLS, with no proxy in front.
    let (status, _) = get(
        &kept,
        &format!("{base}/.well-known/oauth-authorization-server"),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);

    std::fs::copy(&b_cert, &live_cert).unwrap();
    std::fs::copy(&b_key, &live_key).unwrap();
    hangup(&served);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, cert) = get(&client(&[&a_cert, &b_cert]), &alive).await.unwrap();
        assert_eq!(status, 200);
        if cert == der(&b_cert) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a new connection never got the reloaded certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection opened before the reload is still open, and still has its certificate.
    let (status, cert) = get(&kept, &alive)
        .await
        .expect("the open connection survives the reload");
    assert_eq!((status, cert == der(&a_cert)), (200, true));

    // Files that do not load: the current certificate stays.
    std::fs::write(&live_cert, "not a certificate").unwrap();
    hangup(&served);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, cert) = get(&client(&[&b_cert]), &alive).await.unwrap();
    assert_eq!((status, cert == der(&b_cert)), (200, true));
    drop(served);
    db.stop().await;
}

#[test]
fn a_pair_that_does_not_load_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "cert");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let missing = dir.path().join("missing.key");
    let cases: [(&[(&str, &Path)], &str); 4] = [
        (
            &[
                ("SCOPEGATE_TLS_CERT", &garbage),
                ("SCOPEGATE_TLS_KEY", &key),
            ],
            "tls_cert",
        ),
        (
            &[
                ("SCOPEGATE_TLS_CERT", &cert),
                ("SCOPEGATE_TLS_KEY", &garbage),
            ],
            "tls_key",
        ),
        (
            &[
                ("SCOPEGATE_TLS_CERT", &cert),
                ("SCOPEGATE_TLS_KEY", &missing),
            ],
            "cannot read tls_key",
        ),
        (
            &[("SCOPEGATE_TLS_CERT", &cert)],
            "tls_cert and tls_key together",
        ),
    ];
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    for (env, says) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_scopegate"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("DATABASE_URL", &db)
            .env("SCOPEGATE_DEBUG", "true")
            .env("SCOPEGATE_LOG", "error")
            .env_remove("SCOPEGATE_CONFIG")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{env:?}: {stderr}");
        assert!(stderr.contains(says), "{env:?}: {stderr}");
    }
}
