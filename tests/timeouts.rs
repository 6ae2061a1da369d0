//! Read timeouts: a client that sends half a request (slowloris), trickles a body, or leaves a
//! connection idle does not hold it open past the configured limits.

use std::time::{Duration, Instant};

use poem::Route;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Backend, TestServer};

async fn server(header: u64, body: u64, keep_alive: u64) -> TestServer {
    TestServer::start_with(
        Backend::Sqlite,
        |s| {
            s.header_read_timeout = header;
            s.body_read_timeout = body;
            s.keep_alive_timeout = keep_alive;
        },
        Route::new(),
    )
    .await
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection (or `limit` passes); returns what it sent and
/// how long it took to close, `None` when it was still open at the limit.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    until(stream, limit, |_| false).await
}

/// Reads until the server closes the connection, or what it sent satisfies `enough` (reported
/// as closed then), or `limit` passes.
async fn until(
    stream: &mut TcpStream,
    limit: Duration,
    enough: impl Fn(&str) -> bool,
) -> (String, Option<Duration>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    String::from_utf8_lossy(&got).into_owned(),
                    Some(start.elapsed()),
                );
            }
            Ok(Ok(n)) => {
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).into_owned();
                if enough(&text) {
                    return (text, Some(start.elapsed()));
                }
            }
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_head_is_cut_off() {
    let server = server(1, 30, 60).await;
    let mut stream = connect(&server).await;
    stream
        .write_all(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    // Keep trickling: activity must not extend the header deadline.
    let trickle = async {
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if stream.write_all(b"a").await.is_err() {
                break;
            }
        }
    };
    trickle.await;
    let (_, closed) = until_closed(&mut stream, Duration::from_secs(3)).await;
    let closed = closed.expect("the connection was still open past header_read_timeout");
    assert!(closed < Duration::from_secs(3));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_is_refused_in_time() {
    let server = server(10, 1, 60).await;
    let mut stream = connect(&server).await;
    stream
        .write_all(
            b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 400\r\n\r\n\
              grant_type=client_credentials",
        )
        .await
        .unwrap();
    let start = Instant::now();
    let (answer, _) = until(&mut stream, Duration::from_secs(4), |t| {
        t.contains("invalid_request")
    })
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("invalid_request"), "{answer}");
    assert!(start.elapsed() < Duration::from_secs(4));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = server(30, 30, 1).await;
    let mut stream = connect(&server).await;
    stream
        .write_all(b"GET /health/none HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = until_closed(&mut stream, Duration::from_secs(4)).await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let closed = closed.expect("an idle connection stayed open past keep_alive_timeout");
    assert!(
        closed >= Duration::from_millis(900),
        "closed after {closed:?}, not idle long enough"
    );
    server.stop().await;
}
