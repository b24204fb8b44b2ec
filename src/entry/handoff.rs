//! Websocket connections handed over by a Node `http.Server`: Node parsed the upgrade request;
//! we take a duplicate of its socket's file descriptor and own the connection from there on.

use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use crate::engine::request::RequestInfo;
use crate::engine::server::{EngineInner, HttpResponse};
use crate::engine::websocket;

use super::{decide_upgrade, Upgrade};

/// Duplicates `fd` so the connection outlives Node's handle, which the caller then destroys.
pub fn duplicate(fd: RawFd) -> io::Result<std::net::TcpStream> {
    // SAFETY: dup has no memory-safety preconditions; the result is checked before use and
    // becomes owned by the returned stream.
    let copy = unsafe { libc::dup(fd) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` is a fresh descriptor that nothing else owns.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(copy) };
    stream.set_nonblocking(true)?;
    Ok(stream)
}

pub async fn serve_upgrade(
    engine: Arc<EngineInner>,
    stream: std::net::TcpStream,
    request: RequestInfo,
    head: Bytes,
) -> io::Result<()> {
    let mut stream = tokio::net::TcpStream::from_std(stream)?;
    let Upgrade {
        accept,
        target,
        id,
        headers,
        deflate,
    } = match decide_upgrade(&engine, &request).await {
        Ok(upgrade) => upgrade,
        Err(refusal) => return refuse(&mut stream, refusal).await,
    };
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
    );
    for (name, value) in headers {
        // A header listener's value must not be able to split the response.
        if !name.contains(['\r', '\n']) && !value.contains(['\r', '\n']) {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    response.push_str("\r\n");
    stream.write_all(response.as_bytes()).await?;
    websocket::serve(engine, stream, head, target, request, id, deflate).await;
    Ok(())
}

/// Answers an upgrade request we do not take with a plain HTTP response, then closes.
async fn refuse(stream: &mut tokio::net::TcpStream, response: HttpResponse) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        if response.status == 403 {
            "Forbidden"
        } else {
            "Bad Request"
        },
        response.content_type(),
        response.body.len(),
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&response.body).await?;
    stream.shutdown().await
}
