//! The HTTP server loop: poem's endpoint served over hyper with read timeouts, which poem's own
//! `Server` does not offer. Without them a client that sends half a request holds a connection
//! (and its memory) open for as long as it likes: one slowloris connection each.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use poem::listener::Acceptor;
use poem::{Body, Endpoint, EndpointExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[cfg(feature = "server")]
use crate::settings::Settings;

/// How long a client may take, from the settings of the same names.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To send a request's headers, counted from when the server starts waiting for them (the
    /// connection opened, or the previous response was sent).
    pub header_read: Duration,
    /// To send a request's whole body, counted from the end of its headers.
    pub body_read: Duration,
    /// Of a connection without any traffic in either direction.
    pub keep_alive: Duration,
}

impl Timeouts {
    /// The timeouts `settings` configure.
    #[cfg(feature = "server")]
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            header_read: Duration::from_secs(settings.header_read_timeout),
            body_read: Duration::from_secs(settings.body_read_timeout),
            keep_alive: Duration::from_secs(settings.keep_alive_timeout),
        }
    }
}

/// How long a graceful shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `acceptor` until `shutdown` completes, then lets requests in flight finish
/// (for at most 10 s).
pub async fn serve<A, E>(
    mut acceptor: A,
    app: E,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    A: Acceptor + 'static,
    E: Endpoint + 'static,
{
    let app = Arc::new(app.map_to_response());
    let graceful = GracefulShutdown::new();
    // One connection builder for the server's life, not one per connection.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    builder.http2().timer(TokioTimer::new());
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = acceptor.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (io, local_addr, remote_addr, scheme) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
            let app = app.clone();
            let (local_addr, remote_addr, scheme) =
                (local_addr.clone(), remote_addr.clone(), scheme.clone());
            async move {
                let mut req: poem::Request = (req, local_addr, remote_addr, scheme).into();
                let body = req.take_body();
                req.set_body(with_deadline(body, timeouts.body_read));
                let resp = app.get_response(req).await;
                Ok::<http::Response<_>, Infallible>(resp.into())
            }
        });
        let activity = Arc::new(Activity::new());
        let io = Watched {
            inner: io,
            activity: activity.clone(),
        };
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            tokio::pin!(conn);
            loop {
                tokio::select! {
                    _ = conn.as_mut() => return,
                    () = tokio::time::sleep(timeouts.keep_alive) => {
                        if activity.idle_for() >= timeouts.keep_alive {
                            // Closed, not drained: an idle connection has nothing in flight.
                            return;
                        }
                    }
                }
            }
        });
    }
    drop(acceptor);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the shutdown grace period");
    }
    Ok(())
}

/// A body that fails once `limit` has passed since the request's headers arrived.
fn with_deadline(body: Body, limit: Duration) -> Body {
    let deadline = tokio::time::Instant::now() + limit;
    let stream = body.into_bytes_stream();
    Body::from_bytes_stream(futures_util::stream::unfold(
        Some(Box::pin(stream)),
        move |state| async move {
            let mut stream = state?;
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(item)) => Some((item, Some(stream))),
                Ok(None) => None,
                Err(_) => Some((
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request body was not received in time",
                    )),
                    None,
                )),
            }
        },
    ))
}

/// When a connection last moved a byte.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// A connection's socket that records its traffic in [`Activity`].
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.activity.touch();
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
