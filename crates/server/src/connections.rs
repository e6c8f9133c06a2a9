//! The listener's defences against clients that hold connections rather than use them
//! (`[server]`): a cap on open connections, a deadline for the TLS handshake and for every
//! request head (slowloris), an idle timeout, a deadline per request, its body included. Plain
//! HTTP and HTTPS share this one accept loop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt as _;

/// `[server]`'s connection limits, as durations.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// The TLS handshake, and each request head (request line and headers), must arrive within
    /// this; a client sending headers byte by byte is cut off.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight is closed this long after it opened or after its
    /// last response.
    pub idle_timeout: Duration,
    /// A request, its body included, must be answered within this; else 408.
    pub request_timeout: Duration,
    /// Connections open at once; beyond it a new connection is closed as soon as accepted.
    pub max_connections: usize,
}

/// Largest request head (request line and headers) over HTTP/1.1.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Accepts connections until the listener fails for good (never, in practice: accept errors
/// such as running out of file descriptors are waited out).
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    limits: ConnectionLimits,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(100);
    let builder = Arc::new(builder);
    let full = Arc::new(AtomicBool::new(false));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Closed at once: the client learns it now, and a queue would only hold its
            // socket open. Logged once per episode, not once per connection.
            if !full.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "server.max_connections reached: new connections are closed"
                );
            }
            drop(stream);
            continue;
        };
        full.store(false, Ordering::Relaxed);
        let builder = builder.clone();
        let tls = tls.clone();
        let router = router.clone();
        tokio::spawn(async move {
            connection(&builder, tls, stream, peer, router, limits, permit).await;
        });
    }
}

async fn connection(
    builder: &auto::Builder<TokioExecutor>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request| {
            handle(
                request,
                router.clone(),
                peer,
                activity.clone(),
                limits.request_timeout,
            )
        })
    };
    match tls {
        Some(acceptor) => {
            let Ok(Ok(stream)) =
                tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await
            else {
                return;
            };
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            until_idle(conn, &activity, limits.idle_timeout).await;
        }
        None => {
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            until_idle(conn, &activity, limits.idle_timeout).await;
        }
    }
}

/// Drives the connection until it ends or stays idle (no request in flight) for `idle`;
/// dropping it closes the socket.
async fn until_idle<F: std::future::Future>(conn: F, activity: &Activity, idle: Duration) {
    tokio::pin!(conn);
    loop {
        let deadline = activity.idle_deadline(idle);
        tokio::select! {
            _ = &mut conn => return,
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(|| Instant::now() + idle)) => {
                if activity.idle_deadline(idle).is_some_and(|d| d <= Instant::now()) {
                    return;
                }
            }
        }
    }
}

async fn handle(
    mut request: Request<hyper::body::Incoming>,
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
    timeout: Duration,
) -> Result<Response<Body>, Infallible> {
    let _busy = Busy::begin(activity);
    request.extensions_mut().insert(ConnectInfo(peer));
    let request = request.map(Body::new);
    match tokio::time::timeout(timeout, router.oneshot(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = (
                StatusCode::REQUEST_TIMEOUT,
                "The request took too long. Please try again.",
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Ok(response)
        }
    }
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity(Mutex<(usize, Instant)>);

impl Activity {
    fn new() -> Self {
        Self(Mutex::new((0, Instant::now())))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, (usize, Instant)> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When the connection will have been idle for `idle`; `None` while a request is in flight.
    fn idle_deadline(&self, idle: Duration) -> Option<Instant> {
        let (in_flight, since) = *self.state();
        (in_flight == 0).then(|| since + idle)
    }
}

/// One request in flight; its end (or its cancellation) restarts the idle clock.
struct Busy(Arc<Activity>);

impl Busy {
    fn begin(activity: Arc<Activity>) -> Self {
        activity.state().0 += 1;
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.0 = state.0.saturating_sub(1);
        state.1 = Instant::now();
    }
}
