//! The accept loop both transports share (plain http `serve`, https
//! `serve --tls`), and the time limits on a request: a client that does not
//! send a request's headers within 30 s (or `--request-timeout`, if shorter)
//! loses its connection (hyper's header timeout, which also ends an idle
//! kept-alive connection), and a body that stalls for longer than
//! `--request-timeout` is cut off with `408` (the [`body_deadline`] layer).
//! Without them a phone on a dead link, or anyone, could hold a connection
//! and its task open for ever.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tower_service::Service;

use crate::AppState;

/// How long the server waits for open connections after Ctrl-C.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Headers are due within this, or `--request-timeout` when it is shorter.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// The default of `--request-timeout`: a slow mobile link that keeps
/// sending is never cut off, one silent for a minute is let go.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves `app` on `listener` until Ctrl-C, each accepted connection first
/// passed through `accept` (the TLS handshake, or nothing); a connection
/// `accept` answers `None` for is dropped. On Ctrl-C the listener closes and
/// open connections finish their requests (up to [`DRAIN_TIMEOUT`]).
pub async fn serve_loop<A, F, IO>(
    listener: TcpListener,
    app: axum::Router,
    request_timeout: Duration,
    accept: A,
) -> io::Result<()>
where
    A: Fn(TcpStream, SocketAddr) -> F + Clone + Send + 'static,
    F: Future<Output = Option<IO>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut ctrl_c => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let accept = accept.clone();
        let app = app.clone();
        let stop = stop_rx.clone();
        conns.spawn(async move {
            if let Some(io) = accept(tcp, peer).await {
                connection(io, app, peer, request_timeout, stop).await;
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// One HTTP/1.1 connection: requests answered by `app` with the peer's
/// address as `ConnectInfo`, headers due within `request_timeout`.
async fn connection<IO>(
    io: IO,
    app: axum::Router,
    peer: SocketAddr,
    request_timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.clone();
        async move { app.call(req).await }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(request_timeout.min(HEADER_TIMEOUT))
        .serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// A request body that must keep arriving: after `limit` with no new data
/// (counted from the handler's first read, then from each piece that came)
/// the next read fails (the handler's extractor gives up) and the flag is
/// set. A large upload over a slow but live link is not cut off.
struct Deadline {
    inner: Body,
    limit: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let limit = self.limit;
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            if let Some(sleep) = self.sleep.as_mut() {
                sleep.as_mut().reset(tokio::time::Instant::now() + limit);
            }
            return Poll::Ready(frame);
        }
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if sleep.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "request body stalled",
            )))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Layer: a request's body must not stall for longer than the server's
/// request timeout; one that does is answered `408` and its connection
/// closed (nothing of it was stored: a handler reads its whole body before
/// it writes). It runs inside the auth layer, so a page's 408 is in the
/// reader's own header.
pub(crate) async fn body_deadline(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let limit = s.request_timeout;
    // In the reader's own header: the auth layer has read the session.
    let page = crate::is_page(req.uri().path()).then(|| crate::pages::Page::of_request(&req));
    let expired = Arc::new(AtomicBool::new(false));
    let req = req.map(|inner| {
        Body::new(Deadline {
            inner,
            limit,
            sleep: None,
            expired: expired.clone(),
        })
    });
    let res = next.run(req).await;
    if !expired.load(Ordering::Relaxed) {
        return res;
    }
    let secs = limit.as_secs();
    let message = format!(
        "请求内容发送中断超过 {secs} 秒，未作处理，请重新提交 / the request body stalled for {secs} s: nothing was done, send it again"
    );
    let mut out = match page {
        Some(page) => page.error_with(StatusCode::REQUEST_TIMEOUT, "request_timeout", &message),
        None => crate::WebError {
            status: StatusCode::REQUEST_TIMEOUT,
            code: "request_timeout",
            message,
        }
        .into_response(),
    };
    out.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    out
}

/// Layer: a JSON or form body holding a NUL character (`\u0000`, `%00`) is
/// refused with 400 before any handler reads it: PostgreSQL cannot store a
/// NUL in text, and no name, reason or code holds one. (File uploads are
/// bytes, and are not read here.) Inside the auth layer: a page's refusal is
/// in the reader's own header.
pub(crate) async fn refuse_nul(req: Request, next: Next) -> Response {
    let kind = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let nul: &[u8] = if kind.starts_with("application/json") {
        b"\\u0000"
    } else if kind.starts_with("application/x-www-form-urlencoded") {
        b"%00"
    } else {
        return next.run(req).await;
    };
    let page = crate::is_page(req.uri().path()).then(|| crate::pages::Page::of_request(&req));
    let (parts, body) = req.into_parts();
    // Each route's own size limit still applies when its handler reads it.
    let bytes = match axum::body::to_bytes(body, BUFFER_LIMIT).await {
        Ok(b) => b,
        // Too large, or cut off: let the handler's reading answer as it does.
        Err(_) => return next.run(Request::from_parts(parts, Body::empty())).await,
    };
    if !bytes
        .windows(nul.len())
        .any(|w| w.eq_ignore_ascii_case(nul))
    {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    let message =
        "请求内容含有空字符（NUL），未作处理 / the request holds a NUL character: nothing was done"
            .to_string();
    match page {
        Some(page) => page.error_with(StatusCode::BAD_REQUEST, "nul_character", &message),
        None => crate::WebError {
            status: StatusCode::BAD_REQUEST,
            code: "nul_character",
            message,
        }
        .into_response(),
    }
}

/// The most of a JSON or form body [`refuse_nul`] reads (the largest any
/// route takes).
const BUFFER_LIMIT: usize = 64 * 1024 * 1024;
