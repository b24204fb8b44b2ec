//! Our own HTTP listener: a websocket upgrade that opens a connection is answered by us (see
//! `upgrade`); hyper serves the rest of the HTTP traffic, later upgrades included.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::engine::http::Route;
use crate::engine::request::{Method, RequestInfo};
use crate::engine::server::{EngineInner, Header, HttpResponse};
use crate::engine::websocket;

use super::{decide_upgrade, upgrade, Upgrade};

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
            let mut stream = stream;
            let first = tokio::select! {
                first = first_request(&mut stream, &engine, remote) => first,
                _ = shutdown.cancelled() => return,
            };
            match first {
                FirstRequest::Upgrade(info, rest) => {
                    let _ = upgrade::serve(engine, stream, info, rest).await;
                }
                FirstRequest::Http(read) => {
                    let stream = Prefixed { read, stream };
                    tokio::select! {
                        _ = serve_http(engine, stream, remote) => {}
                        _ = shutdown.cancelled() => {}
                    }
                }
                FirstRequest::Gone => {}
            }
        });
    }
}

/// Beyond this, an unfinished request head is left to hyper (which answers it as it does).
const MAX_HEAD: usize = 16 * 1024;

enum FirstRequest {
    /// A websocket upgrade on the engine's path, and the bytes that followed it.
    Upgrade(RequestInfo, Bytes),
    /// Anything else, with the bytes read so far: hyper's.
    Http(Bytes),
    /// The client left before sending a request.
    Gone,
}

/// Reads the connection's first request head. A websocket upgrade for the engine is answered by
/// us (`upgrade::serve`: its 101 leaves with the open packet, in one write); the rest of the
/// HTTP traffic goes to hyper.
async fn first_request(
    stream: &mut TcpStream,
    engine: &EngineInner,
    remote: SocketAddr,
) -> FirstRequest {
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return FirstRequest::Gone,
            Ok(_) => {}
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf) {
            Ok(httparse::Status::Complete(length)) => {
                let info = websocket_request(&request, engine, remote);
                return match info {
                    Some(info) => FirstRequest::Upgrade(info, buf.split_off(length).freeze()),
                    None => FirstRequest::Http(buf.freeze()),
                };
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
            _ => return FirstRequest::Http(buf.freeze()),
        }
    }
}

/// The request, when it asks for a websocket on the engine's path.
fn websocket_request(
    request: &httparse::Request,
    engine: &EngineInner,
    remote: SocketAddr,
) -> Option<RequestInfo> {
    let upgrade = request.headers.iter().any(|header| {
        header.name.eq_ignore_ascii_case("upgrade")
            && std::str::from_utf8(header.value)
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
    });
    if !upgrade || request.method != Some("GET") || request.version != Some(1) {
        return None;
    }
    let url = request.path?;
    let path = url.split('?').next().unwrap_or(url);
    if engine.route(path) != Route::Engine {
        return None;
    }
    let headers = request
        .headers
        .iter()
        .map(|header| (header.name, header.value));
    Some(request_info_of("GET", url, headers, remote))
}

/// Serves HTTP/1.1 with hyper; a later websocket upgrade on a kept-alive connection still
/// comes through hyper's upgrade.
async fn serve_http(engine: Arc<EngineInner>, stream: Prefixed, remote: SocketAddr) {
    let service = hyper::service::service_fn(move |request| {
        let engine = engine.clone();
        async move { Ok::<_, Infallible>(route(engine, request, remote).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

/// The connection's socket, with the bytes `first_request` already read served first.
struct Prefixed {
    read: Bytes,
    stream: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.read.is_empty() {
            let count = self.read.len().min(buf.remaining());
            buf.put_slice(&self.read.split_to(count));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, slices)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

fn request_info(request: &Request<Incoming>, remote: SocketAddr) -> RequestInfo {
    let url = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    request_info_of(request.method().as_str(), url, headers, remote)
}

/// The engine's view of a request, whichever parser read it; header names lower-cased.
fn request_info_of<'a>(
    method: &str,
    url: &str,
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
    remote: SocketAddr,
) -> RequestInfo {
    let headers = headers
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                String::from_utf8_lossy(value).into_owned(),
            )
        })
        .collect();
    RequestInfo::new(
        method.to_owned(),
        url.to_owned(),
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
        if let Ok(parts) = upgraded.downcast::<TokioIo<Prefixed>>() {
            let Prefixed { read, stream } = parts.io.into_inner();
            let prefix = [read, parts.read_buf].concat().into();
            websocket::serve(
                engine,
                stream,
                Bytes::new(),
                prefix,
                target,
                info,
                id,
                deflate,
            )
            .await;
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
