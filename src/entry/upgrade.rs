//! Answering a websocket upgrade ourselves, on a socket we own: the one our listener accepted,
//! or the one a Node `http.Server` handed over (see `handoff`). The 101 goes out in the same
//! write as the engine.io open packet: one send, one segment for the client to read.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::engine::request::RequestInfo;
use crate::engine::server::{EngineInner, HttpResponse};
use crate::engine::websocket;

use super::{decide_upgrade, Upgrade};

/// Decides the upgrade `request` (its bytes already read; `rest` is what the client sent after
/// it) and serves the websocket, or answers the refusal and closes.
pub async fn serve(
    engine: Arc<EngineInner>,
    mut stream: TcpStream,
    request: RequestInfo,
    rest: Bytes,
) -> io::Result<()> {
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
    let response = Bytes::from(response);
    websocket::serve(engine, stream, response, rest, target, request, id, deflate).await;
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
