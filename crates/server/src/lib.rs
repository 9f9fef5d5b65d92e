//! Countersign's HTTP API: authentication, problem+json errors, ledger ingest, claim
//! verification, feed health, operations endpoints and the OpenAPI document. Handlers are thin:
//! they parse, call the pure core and the store, and shape the answer.

pub mod adapters;
pub mod alerts;
pub mod api_types;
pub mod auth;
pub mod calls;
pub mod campaigns;
pub mod config;
pub mod console;
pub mod customers;
pub mod exercises;
pub mod http;
pub mod kafka;
pub mod ledger;
pub mod metrics;
pub mod openapi;
pub mod operations;
pub mod problem;
pub mod ratelimit;
pub mod requests;
pub mod sender_ids;
pub mod services;
pub mod state;
pub mod stir;
pub mod text_checks;
pub mod tls;
pub mod verification;

pub use state::{now_ms, AppState, Auth, SharedState};

use std::future::Future;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;

/// Every resource's routes with their OpenAPI operations, under the document's info and tags.
pub fn api_routes() -> OpenApiRouter<SharedState> {
    use utoipa::OpenApi;
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(ledger::routes())
        .merge(verification::routes())
        .merge(customers::routes())
        .merge(text_checks::routes())
        .merge(calls::routes())
        .merge(stir::routes())
        .merge(adapters::routes())
        .merge(campaigns::routes())
        .merge(alerts::routes())
        .merge(sender_ids::routes())
        .merge(exercises::routes())
        .merge(operations::routes())
        .merge(console::session::api_routes())
}

/// The API's router: every route, problem+json for unknown paths and methods.
pub fn router(state: SharedState) -> Router {
    let (routes, _) = api_routes().split_for_parts();
    routes
        .merge(console::routes(&state))
        .fallback(operations::not_found)
        .method_not_allowed_fallback(operations::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            requests::track,
        ))
        .with_state(state)
}

/// Build what the server keeps in memory from the store: the brand registry, the recent calls
/// of the velocity windows, the smishing campaigns (a replay of the reports). Run before
/// serving — and by the simulator before it drives the services directly.
pub async fn prepare(state: &SharedState) -> anyhow::Result<()> {
    sender_ids::reload_registry(state)
        .await
        .map_err(|p| anyhow::anyhow!("cannot load the brand registry: {}", p.detail))?;
    calls::load_recent_calls(state)
        .await
        .map_err(|p| anyhow::anyhow!("cannot load recent calls: {}", p.detail))?;
    services::campaigns::load(state)
        .await
        .map_err(|p| anyhow::anyhow!("cannot replay smishing reports: {}", p.detail))?;
    Ok(())
}

/// Serve until `shutdown` resolves; also runs the retention purge every `purge_interval`.
pub async fn serve(
    listener: TcpListener,
    state: SharedState,
    purge_interval: Option<Duration>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    prepare(&state).await?;
    state.tasks.spawn(alerts::deliver_forever(state.clone()));
    if let Some(o) = &state.oidc {
        o.clone().warm();
    }
    state
        .tasks
        .spawn(services::campaigns::spoof_alerts_forever(state.clone()));
    if let Some(every) = purge_interval {
        state.tasks.spawn(purge_forever(state.clone(), every));
    }
    if state.store.shared() {
        state
            .tasks
            .spawn(services::shared::sync_forever(state.clone()));
    }
    #[cfg(feature = "kafka")]
    if let Some(k) = state.kafka_settings.clone() {
        state.tasks.spawn(kafka::consume_forever(state.clone(), k));
    }
    let limits = state.limits.clone();
    accept(listener, router(state.clone()), &state, shutdown).await;
    drain(&state, Duration::from_secs(limits.shutdown_grace_secs)).await;
    Ok(())
}

/// Purge what is past retention every `every`, until the server stops.
async fn purge_forever(st: SharedState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = st.stopping.cancelled() => return,
        }
        let cut = now_ms() - st.retention_ms;
        match st.store.purge(cut).await {
            Ok(n) if n > 0 => tracing::info!(deleted = n, "retention purge"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention purge failed; will retry"),
        }
    }
}

/// Tell background tasks to stop and wait for them up to `grace`; what is still running then is
/// left to be cut by the runtime's end (each is safe to cut: its work is durable or retried).
async fn drain(st: &SharedState, grace: Duration) {
    st.stopping.cancel();
    st.tasks.close();
    if tokio::time::timeout(grace, st.tasks.wait()).await.is_err() {
        tracing::warn!(
            tasks = st.tasks.len(),
            "background tasks still running at the shutdown deadline were cut"
        );
    }
}

/// Accept connections until `shutdown`, each served by hyper's HTTP/1 with a header-read
/// timeout (slow, idle or silent clients are cut off and never pin a connection); then stop
/// accepting and give requests in flight `shutdown_grace_secs` to finish.
async fn accept(
    listener: TcpListener,
    app: Router,
    st: &SharedState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let limits = &st.limits;
    let header_timeout = Duration::from_secs(limits.header_read_timeout_secs.max(1));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    // Past `max_connections`, a connection is still answered — by a router that keeps health
    // checks working and tells everyone else to come back (503 `server_busy`), without keep-alive.
    let mut busy_http = http.clone();
    busy_http.keep_alive(false);
    let busy: Router = Router::new()
        .route("/healthz", axum::routing::get(operations::healthz))
        .fallback(operations::server_busy);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, typically: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (builder, service, slot) = match slots.clone().try_acquire_owned() {
            Ok(slot) => (
                http.clone(),
                TowerToHyperService::new(app.clone()),
                Some(slot),
            ),
            Err(_) => (
                busy_http.clone(),
                TowerToHyperService::new(busy.clone()),
                None,
            ),
        };
        let watcher = graceful.watcher();
        let tls = st.tls.clone();
        tokio::spawn(async move {
            // A connection ends with an error whenever a client hangs up or times out.
            match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn).await;
                }
                // The handshake is bounded like a request's headers: a silent client is cut.
                Some(tls) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(header_timeout, tls.accept(stream)).await
                    {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(conn).await;
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    let grace = Duration::from_secs(limits.shutdown_grace_secs);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = limits.shutdown_grace_secs,
            "requests still in flight at the shutdown deadline were cut"
        );
    }
}
