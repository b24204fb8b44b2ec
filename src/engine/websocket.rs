//! The websocket transport: a direct handshake, or the upgrade of a polling session
//! (`2probe` → `3probe`, then `5`), then one task that reads and writes the socket.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::packet::{decode_text, Packet};
use super::request::RequestInfo;
use super::server::{EngineInner, Target};
use super::session::{CloseReason, Session, Transport};

/// tungstenite's defaults (128 KiB buffers, zero-filled on first read) would cost every idle
/// connection that much resident memory; socket.io packets are small, and larger ones still fit
/// because the buffers grow on demand.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 4 * 1024;

pub fn websocket_config(engine: &EngineInner) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(engine.config.max_payload))
        .max_frame_size(Some(engine.config.max_payload))
}

pub async fn serve<S>(
    engine: Arc<EngineInner>,
    mut ws: WebSocketStream<S>,
    target: Target,
    request: RequestInfo,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let session = match target {
        Target::Handshake => {
            let session = engine.handshake(Transport::Websocket, request).await;
            let open = engine.open_packet(&session);
            if ws.send(Message::text(open)).await.is_err() {
                session.close(CloseReason::TransportClose);
                return;
            }
            session
        }
        Target::Session(session) => {
            if !engine.config.allow_upgrades || !session.begin_upgrade() {
                let _ = ws.close(None).await;
                return;
            }
            if !probe(&engine, &mut ws, &session).await {
                session.abort_upgrade();
                let _ = ws.close(None).await;
                return;
            }
            session.complete_upgrade();
            session
        }
    };
    run(ws, &session).await;
}

/// Runs the probe exchange; true once the client sent `5` (upgrade) in time.
async fn probe<S>(engine: &EngineInner, ws: &mut WebSocketStream<S>, session: &Session) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = tokio::time::sleep(engine.config.upgrade_timeout);
    tokio::pin!(deadline);
    loop {
        let message = tokio::select! {
            message = ws.next() => message,
            _ = &mut deadline => return false,
            _ = session.cancelled() => return false,
        };
        match message {
            Some(Ok(Message::Text(text))) if text.as_str() == "2probe" => {
                if ws.send(Message::text("3probe")).await.is_err() {
                    return false;
                }
                session.flush_poll_for_upgrade();
            }
            Some(Ok(Message::Text(text))) if text.as_str() == "5" => return true,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            _ => return false,
        }
    }
}

async fn run<S>(ws: WebSocketStream<S>, session: &Session)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let reader = async {
        while let Some(message) = stream.next().await {
            match message {
                Ok(Message::Text(text)) => match decode_text(text.as_str()) {
                    Ok(packet) => session.receive(packet),
                    Err(_) => return CloseReason::ParseError,
                },
                Ok(Message::Binary(bytes)) => session.receive(Packet::Binary(bytes)),
                Ok(Message::Close(_)) => return CloseReason::TransportClose,
                Ok(_) => {}
                Err(_) => return CloseReason::TransportError,
            }
        }
        CloseReason::TransportClose
    };
    let writer = async {
        loop {
            session.outbox.ready().await;
            for frame in session.outbox.drain() {
                if sink.feed(frame.to_message()).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
            if session.is_closed() {
                let _ = sink.close().await;
                return;
            }
        }
    };
    tokio::select! {
        reason = reader => session.close(reason),
        _ = writer => session.close(CloseReason::TransportError),
    }
}
