//! `serve`.

use poem::Route;
use poem::listener::{AcceptorExt, Listener, TcpListener};

use super::{CommandError, Scopegate};
use crate::settings::Settings;

pub(super) fn serve(host: &Scopegate, settings: Settings) -> Result<(), CommandError> {
    let addr = settings.addr.clone();
    addr.parse::<std::net::SocketAddr>()
        .map_err(|_| CommandError::Usage(format!("--addr {addr:?} is not HOST:PORT")))?;
    if settings.issuer.is_none() && !settings.debug {
        return Err(CommandError::Usage(
            "set `issuer` (e.g. SCOPEGATE_ISSUER=https://auth.example.com): with debug off, the \
             issuer this server publishes must be configured, never taken from a request"
                .into(),
        ));
    }
    let banner = host.banner.as_ref().map(|b| b(&settings));
    let user_info = host
        .user_info
        .clone()
        .unwrap_or_else(|| std::sync::Arc::new(crate::core::userinfo::DefaultUserInfo));
    let crate::web::Started { state, unmigrated } =
        crate::web::start_state(settings, user_info).map_err(CommandError::Failed)?;
    let timeouts = crate::web::server::Timeouts::from_settings(&state.settings);
    let tls = state
        .settings
        .tls_cert
        .clone()
        .zip(state.settings.tls_key.clone());
    let metrics = state
        .settings
        .metrics_addr
        .clone()
        .map(|addr| (addr, crate::web::metrics::own_routes(state.clone())));
    let app = crate::web::app(state, host.host_routes(Route::new()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::Failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr.clone());
        let acceptor = match tls {
            Some((cert, key)) => {
                let configs = crate::web::tls::configs(cert, key).map_err(CommandError::Usage)?;
                listener
                    .rustls(configs)
                    .into_acceptor()
                    .await
                    .map(AcceptorExt::boxed)
            }
            None => listener.into_acceptor().await.map(AcceptorExt::boxed),
        }
        .map_err(|e| CommandError::Failed(format!("cannot listen on {addr}: {e}")))?;
        if let Some((metrics_addr, routes)) = metrics {
            let acceptor = TcpListener::bind(metrics_addr.clone())
                .into_acceptor()
                .await
                .map_err(|e| {
                    CommandError::Failed(format!("cannot listen on {metrics_addr}: {e}"))
                })?;
            tracing::info!(addr = %metrics_addr, "metrics listening");
            tokio::spawn(crate::web::server::serve(
                acceptor,
                routes,
                timeouts,
                shutdown_signal(),
            ));
        }
        if let Some(store) = unmigrated {
            // Dropped with the runtime at shutdown, so it never holds the pool open at exit.
            tokio::spawn(migrate_when_ready(store));
        }
        tracing::info!(%addr, "scopegate listening");
        if let Some(b) = banner {
            println!("{b}");
        }
        crate::web::server::serve(acceptor, app, timeouts, shutdown_signal())
            .await
            .map_err(|e| CommandError::Failed(e.to_string()))
    })
}

/// Applies the migrations once the database answers, retrying with backoff (1 s doubling to
/// 5 s); `/health/ready` answers 503 until then.
async fn migrate_when_ready(store: crate::store::DbStore) {
    let mut wait = std::time::Duration::from_secs(1);
    loop {
        tokio::time::sleep(wait).await;
        let attempt = store.clone();
        match tokio::task::spawn_blocking(move || attempt.migrate()).await {
            Ok(Ok(_)) => {
                tracing::info!("the database answers and is migrated; ready");
                return;
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "migrations not applied yet; retrying"),
            Err(e) => tracing::warn!(error = %e, "migration task failed; retrying"),
        }
        wait = (wait * 2).min(std::time::Duration::from_secs(5));
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
