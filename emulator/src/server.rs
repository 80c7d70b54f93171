//! The HTTP accept loop: hyper http1 per connection, with the caller's address in request
//! extensions and the ability to drop a connection without answering (fault injection).

use crate::faults::DropConnectionMarker;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Serves `app` on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve_connection(stream, peer, app.clone(), shutdown.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "API accept failed"),
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
) {
    let kill = Arc::new(Notify::new());
    let kill_in_service = kill.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let app = app.clone();
        let kill = kill_in_service.clone();
        async move {
            req.extensions_mut().insert(ConnectInfo(peer));
            let resp = match app.oneshot(req.map(Body::new)).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            if resp.extensions().get::<DropConnectionMarker>().is_some() {
                kill.notify_one();
                std::future::pending::<()>().await;
            }
            Ok::<_, Infallible>(resp)
        }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        r = conn => if let Err(e) = r {
            tracing::debug!(error = %e, %peer, "API connection ended with error");
        },
        _ = kill.notified() => tracing::debug!(%peer, "dropping API connection (fault)"),
        _ = shutdown.cancelled() => {}
    }
}
