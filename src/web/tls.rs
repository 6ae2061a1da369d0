//! TLS without a proxy: `tls_cert` and `tls_key` (PEM files) served through poem's rustls
//! listener. `SIGHUP` reads both files again; new connections get the new certificate, and
//! connections already open keep theirs, so a renewal drops nothing. A pair that does not load
//! is refused at start (one line, exit 2) and, on reload, logged while the current pair stays.

use std::path::{Path, PathBuf};

use futures_util::{Stream, StreamExt};
use poem::listener::{IntoTlsConfigStream, RustlsCertificate, RustlsConfig};

/// A certificate chain and its private key, read and checked.
fn load(cert: &Path, key: &Path) -> Result<RustlsConfig, String> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
    };
    let (cert_pem, key_pem) = (read(cert, "tls_cert")?, read(key, "tls_key")?);
    // rustls takes an empty chain without complaint; a file without a certificate is a mistake.
    let chain = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls_cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "tls_cert {} holds no PEM certificate",
            cert.display()
        ));
    }
    match rustls_pemfile::private_key(&mut key_pem.as_slice()) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(format!(
                "tls_key {} holds no PEM private key",
                key.display()
            ));
        }
        Err(e) => return Err(format!("tls_key {}: {e}", key.display())),
    }
    let config = || {
        RustlsConfig::new().fallback(
            RustlsCertificate::new()
                .cert(cert_pem.clone())
                .key(key_pem.clone()),
        )
    };
    // Building the rustls configuration once is what proves the pair is usable.
    let _checked = config().into_stream().map_err(|e| {
        format!(
            "tls_cert {} and tls_key {} do not make a certificate and its key: {e}",
            cert.display(),
            key.display()
        )
    })?;
    Ok(config())
}

/// The configurations the listener serves: the pair as it is now (or why it cannot be
/// served), then the pair again after each `SIGHUP`.
pub fn configs(
    cert: PathBuf,
    key: PathBuf,
) -> Result<impl Stream<Item = RustlsConfig> + Send + 'static, String> {
    // Process-wide and first come first served: an `Err` means a provider is already installed.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let first = load(&cert, &key)?;
    let hangups = hangups()?;
    let reloads = hangups.filter_map(move |()| {
        let loaded = load(&cert, &key);
        async move {
            match loaded {
                Ok(config) => {
                    tracing::info!("SIGHUP: TLS certificate reloaded");
                    Some(config)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "SIGHUP: TLS certificate not reloaded; keeping the current one");
                    None
                }
            }
        }
    });
    Ok(futures_util::stream::once(async move { first }).chain(reloads))
}

/// One item per `SIGHUP` (never on platforms without it).
#[cfg(unix)]
fn hangups() -> Result<impl Stream<Item = ()> + Send + 'static, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let hup = signal(SignalKind::hangup()).map_err(|e| format!("cannot watch SIGHUP: {e}"))?;
    Ok(futures_util::stream::unfold(hup, |mut hup| async move {
        hup.recv().await.map(|()| ((), hup))
    }))
}

#[cfg(not(unix))]
fn hangups() -> Result<impl Stream<Item = ()> + Send + 'static, String> {
    Ok(futures_util::stream::pending())
}
