//! `serve`.

use poem::Route;
use poem::listener::TcpListener;

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
    let state = match &host.user_info {
        Some(provider) => crate::web::build_state_with(settings, provider.clone()),
        None => crate::web::build_state(settings),
    }
    .map_err(CommandError::Failed)?;
    let timeouts = crate::web::server::Timeouts::from_settings(&state.settings);
    let app = crate::web::app(state, host.host_routes(Route::new()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::Failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr.clone());
        let acceptor = poem::listener::Listener::into_acceptor(listener)
            .await
            .map_err(|e| CommandError::Failed(format!("cannot listen on {addr}: {e}")))?;
        tracing::info!(%addr, "scopegate listening");
        if let Some(b) = banner {
            println!("{b}");
        }
        crate::web::server::serve(acceptor, app, timeouts, shutdown_signal())
            .await
            .map_err(|e| CommandError::Failed(e.to_string()))
    })
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
