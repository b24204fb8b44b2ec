//! Our own HTTP listener: hyper serves the engine's path, websocket upgrades included.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::engine::http::Route;
use crate::engine::request::{Method, RequestInfo};
use crate::engine::server::{EngineInner, Header, HttpResponse};
use crate::engine::websocket;

use super::{decide_upgrade, Upgrade};

pub async fn serve(listener: TcpListener, engine: Arc<EngineInner>, shutdown: CancellationToken) {
    loop {
        let (stream, remote) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let engine = engine.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let engine = engine.clone();
                async move { Ok::<_, Infallible>(route(engine, request, remote).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::select! {
                _ = connection => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

fn request_info(request: &Request<Incoming>, remote: SocketAddr) -> RequestInfo {
    let url = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    RequestInfo::new(
        request.method().as_str().to_owned(),
        url,
        headers,
        remote.ip().to_string(),
        false,
    )
}

async fn route(
    engine: Arc<EngineInner>,
    mut request: Request<Incoming>,
    remote: SocketAddr,
) -> Response<Full<Bytes>> {
    let info = request_info(&request, remote);
    let is_upgrade = info
        .header("upgrade")
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade && engine.route(info.path()) == Route::Engine {
        return upgrade(engine, &mut request, info).await;
    }
    let body = match Method::parse(&info.method) {
        Method::Post => read_body(request.into_body(), engine.config.max_payload).await,
        _ => Bytes::new(),
    };
    respond(engine.serve_http(info, body).await)
}

/// Reads at most one byte more than `limit`, enough for the engine to see it is too large.
async fn read_body(mut body: Incoming, limit: usize) -> Bytes {
    let mut buffer = BytesMut::new();
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            buffer.extend_from_slice(&data);
            if buffer.len() > limit {
                break;
            }
        }
    }
    buffer.freeze()
}

async fn upgrade(
    engine: Arc<EngineInner>,
    request: &mut Request<Incoming>,
    info: RequestInfo,
) -> Response<Full<Bytes>> {
    let Upgrade {
        accept,
        target,
        id,
        headers: extra,
        deflate,
    } = match decide_upgrade(&engine, &info).await {
        Ok(upgrade) => upgrade,
        Err(refusal) => return respond(refusal),
    };
    let on_upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        // Take the socket back from hyper: the websocket is written directly (see ws_writer).
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        if let Ok(parts) = upgraded.downcast::<TokioIo<TcpStream>>() {
            let stream = parts.io.into_inner();
            websocket::serve(engine, stream, parts.read_buf, target, info, id, deflate).await;
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert("upgrade", HeaderValue::from_static("websocket"));
    headers.insert("connection", HeaderValue::from_static("Upgrade"));
    if let Ok(value) = HeaderValue::from_str(&accept) {
        headers.insert("sec-websocket-accept", value);
    }
    append(headers, extra);
    response
}

fn respond(response: HttpResponse) -> Response<Full<Bytes>> {
    let mut out = Response::new(Full::new(response.body));
    *out.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_REQUEST);
    append(out.headers_mut(), response.headers);
    out
}

/// Adds the engine's headers; hyper computes `Content-Length` from the body itself.
fn append(map: &mut HeaderMap, headers: Vec<Header>) {
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            map.append(name, value);
        }
    }
}
