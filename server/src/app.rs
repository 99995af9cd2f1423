//! Building and running the service: tenants opened, listener bound, HTTP or HTTPS served.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use hyper_util::rt::TokioTimer;

use crate::config::{Settings, TlsSettings};
use crate::connections::ConnectionGate;
use crate::demo;
use crate::http::{AppState, router};

/// A built service, bound to its address, ready to run.
pub struct Application {
    listener: std::net::TcpListener,
    state: AppState,
    tls: Option<RustlsConfig>,
}

impl Application {
    /// Opens every tenant, binds the listener (port 0 picks a free port) and loads TLS material.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        crate::metrics::handle();
        let tls = settings.tls.as_ref().map(rustls_config).transpose()?;
        let listener = std::net::TcpListener::bind(settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        listener.set_nonblocking(true)?;
        let mut settings = settings;
        // Bound first: with port 0, the tenants' issuer URLs name the port chosen.
        settings.listen = listener.local_addr()?;
        let tenants = crate::tenants::open(&settings)
            .await
            .context("cannot open the tenant catalog")?;
        if settings.demo && tenants.list().await?.is_empty() {
            let token = demo::install(&tenants)
                .await
                .context("cannot install the demo tenant")?;
            println!("{}", demo::instructions(&settings.public_base(), &token));
        }
        tracing::info!(listen = %settings.listen, data = describe_data_location(&settings), "hms-ach ready");
        Ok(Self {
            listener,
            state: AppState::new(settings, Arc::new(tenants)),
            tls,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.state.settings.listen
    }

    /// The application state (tenants, settings).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM, then waits for the ledgers to write
    /// what they were given.
    pub async fn run(self) -> anyhow::Result<()> {
        self.state.tenants.follow_changes();
        self.state.tenants.close_idle_regularly();
        crate::scheduler::start(&self.state.tenants, &self.state.settings.reports.schedule);
        let ledger = &self.state.settings.ledger;
        crate::witnessing::start(
            Arc::clone(&self.state.tenants),
            crate::witnessing::Witness::from_config(&ledger.witnesses)?,
            Duration::from_millis(ledger.witness_interval_ms.max(1)),
        );
        let state = self.state.clone();
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let handle = axum_server::Handle::new();
        tokio::spawn(shutdown_on_signal(handle.clone()));
        let limits = &state.settings.http;
        let mut server = axum_server::from_tcp(self.listener).handle(handle);
        let header_read_timeout = Duration::from_secs(limits.header_read_timeout_secs);
        server
            .http_builder()
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout);
        let tcp = ConnectionGate::new(limits.max_connections, header_read_timeout);
        match self.tls {
            Some(tls) => {
                server
                    .acceptor(RustlsAcceptor::new(tls).acceptor(tcp))
                    .serve(app)
                    .await?
            }
            None => server.acceptor(tcp).serve(app).await?,
        }
        state.tenants.flush_ledgers().await;
        Ok(())
    }
}

/// TLS 1.3 and 1.2 only, with the ring provider.
fn rustls_config(tls: &TlsSettings) -> anyhow::Result<RustlsConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .with_context(|| format!("cannot read certificate `{}`", tls.cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("invalid certificate `{}`", tls.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .with_context(|| format!("cannot read key `{}`", tls.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

async fn shutdown_on_signal(handle: axum_server::Handle) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
    handle.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
}

/// Where the data lives, for the start-up message.
fn describe_data_location(settings: &Settings) -> String {
    match settings.database_url.strip_prefix("sqlite://") {
        Some(dir) => format!("SQLite files under `{}`", Path::new(dir).display()),
        None => "PostgreSQL".into(),
    }
}
