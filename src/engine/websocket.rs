//! The websocket transport: a direct handshake, or the upgrade of a polling session
//! (`2probe` → `3probe`, then `5`), then one task that reads the socket. Writes do not go through
//! this task (see `ws_writer`): it only waits for the socket when a backlog builds up.

use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;

use super::deflate::Negotiated;
use super::frame::Frame;
use super::packet::decode_text;
use super::request::RequestInfo;
use super::server::{EngineInner, Target};
use super::session::{CloseReason, Session, Transport};
use super::ws_codec::{control_frame, Message, MessageReader, Opcode, ProtocolError};
use super::ws_writer::WsWriter;

/// Bytes read at a time, into a per-thread scratch buffer: a connection's own buffer holds only
/// what has arrived of a message, so an idle connection holds none.
const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Reads what the socket has into `buf`. Going through `poll_read` (not `try_read`) lets tokio
/// note a short read as "drained", which saves a second, empty read per message.
async fn read_into(stream: &mut OwnedReadHalf, buf: &mut BytesMut) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let mut read_buf = ReadBuf::new(&mut scratch[..]);
            match Pin::new(&mut *stream).poll_read(cx, &mut read_buf) {
                Poll::Ready(Ok(())) => {
                    buf.extend_from_slice(read_buf.filled());
                    Poll::Ready(Ok(read_buf.filled().len()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
    })
    .await
}

/// How long a closing connection may take to write its last frames.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_TOO_LARGE: u16 = 1009;

struct Connection {
    stream: OwnedReadHalf,
    reader: MessageReader,
    buf: BytesMut,
    writer: Arc<WsWriter>,
}

/// Serves a websocket once its upgrade is decided: writes `response` (our 101, or nothing when
/// hyper already wrote its own) first, with the open packet of a new session in the same write;
/// `prefix` holds bytes already read past the request. A new session (`Target::Handshake`) was
/// admitted with `id` (see `EngineInner::admit`); `deflate` is the permessage-deflate agreement
/// the 101 answered, if any.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    engine: Arc<EngineInner>,
    stream: TcpStream,
    response: Bytes,
    prefix: Bytes,
    target: Target,
    request: RequestInfo,
    id: Option<Arc<str>>,
    deflate: Option<Negotiated>,
) {
    let _ = stream.set_nodelay(true);
    let (read_half, write_half) = stream.into_split();
    let writer = Arc::new(WsWriter::new(write_half, engine.config.max_buffered_bytes));
    // Copied and released at once: `prefix` may share hyper's whole read buffer, which would
    // otherwise stay allocated for the connection's lifetime.
    let buf = BytesMut::from(&prefix[..]);
    drop(prefix);
    let mut reader = MessageReader::new(engine.config.max_payload);
    if let Some(negotiated) = deflate {
        reader = reader.inflating(negotiated);
    }
    let mut conn = Connection {
        stream: read_half,
        reader,
        buf,
        writer,
    };
    let compress_from = deflate.and(engine.config.deflate_threshold);
    let session = match target {
        Target::Handshake => {
            let session = engine.handshake(Transport::Websocket, request, id);
            let open = Frame::text(engine.open_packet(&session));
            let _ = conn.writer.send_after(response, [&open], false);
            session.outbox.attach_websocket(conn.writer.clone());
            if let Some(threshold) = compress_from {
                session.set_deflate_threshold(threshold);
            }
            session
        }
        Target::Session(session) => {
            if !response.is_empty() {
                conn.writer.send_control(response);
            }
            if !engine.config.allow_upgrades || !session.begin_upgrade() {
                conn.finish(&[]).await;
                return;
            }
            if !probe(&engine, &mut conn, &session).await {
                session.abort_upgrade();
                conn.finish(&[]).await;
                return;
            }
            session.complete_upgrade(conn.writer.clone());
            if let Some(threshold) = compress_from {
                session.set_deflate_threshold(threshold);
            }
            session
        }
    };
    let writer = conn.writer.clone();
    // The session's end reaches this task through the writer (see `Outbox::close`): one
    // lock-free signal for the rare events, where a wait on the session's token beside it would
    // take the token's lock on every message. (Closing an ended session again changes nothing.)
    let reason = tokio::select! {
        biased;
        reason = conn.read_loop(&session) => reason,
        _ = writer.run() => CloseReason::TransportError,
    };
    session.close(reason);
    conn.finish(&[]).await;
}

/// Runs the probe exchange; true once the client sent `5` (upgrade) in time.
///
/// Once `3probe` went out, the client has moved to this socket, so a session that ends from then
/// on still completes the upgrade: what the server queued last (a DISCONNECT before closing)
/// then goes out here, before the close, as socket.io does. Before it, the session's end ends
/// the probe.
async fn probe(engine: &EngineInner, conn: &mut Connection, session: &Session) -> bool {
    let deadline = tokio::time::sleep(engine.config.upgrade_timeout);
    tokio::pin!(deadline);
    let mut answered = false;
    loop {
        let message = tokio::select! {
            message = conn.next_message() => message,
            _ = &mut deadline => return false,
            _ = session.cancelled(), if !answered => return false,
        };
        match message {
            Ok(Message::Text(text)) if &text[..] == b"2probe" => {
                let _ = conn.writer.send([&Frame::text("3probe".into())], false);
                session.flush_poll_for_upgrade();
                answered = true;
            }
            Ok(Message::Text(text)) if &text[..] == b"5" => return true,
            Ok(Message::Ping(payload)) => conn
                .writer
                .send_control(control_frame(Opcode::Pong, &payload)),
            Ok(Message::Pong) => {}
            _ => return false,
        }
    }
}

impl Connection {
    async fn read_loop(&mut self, session: &Session) -> CloseReason {
        loop {
            match self.next_message().await {
                Ok(Message::Text(bytes)) => {
                    match std::str::from_utf8(&bytes).ok().map(decode_text) {
                        Some(Ok(packet)) => session.receive(packet),
                        _ => return CloseReason::ParseError,
                    }
                }
                Ok(Message::Binary(bytes)) => {
                    if let Some(packet) = session.protocol.binary_packet(bytes) {
                        session.receive(packet);
                    }
                }
                Ok(Message::Ping(payload)) => self
                    .writer
                    .send_control(control_frame(Opcode::Pong, &payload)),
                Ok(Message::Pong) => {}
                Ok(Message::Close(payload)) => {
                    // Echo the client's status code, as the closing handshake asks.
                    self.writer.close(control_frame(
                        Opcode::Close,
                        &payload[..payload.len().min(2)],
                    ));
                    return CloseReason::TransportClose;
                }
                Err(reason) => return reason,
            }
        }
    }

    async fn next_message(&mut self) -> Result<Message, CloseReason> {
        loop {
            match self.reader.next(&mut self.buf) {
                Ok(Some(message)) => return Ok(message),
                Ok(None) => {}
                Err(error) => {
                    let code = match error {
                        ProtocolError::TooLarge => CLOSE_TOO_LARGE,
                        ProtocolError::Invalid => CLOSE_PROTOCOL_ERROR,
                    };
                    self.writer
                        .close(control_frame(Opcode::Close, &code.to_be_bytes()));
                    return Err(CloseReason::TransportError);
                }
            }
            if self.buf.is_empty() && self.buf.capacity() > 0 {
                self.buf = BytesMut::new();
            }
            match read_into(&mut self.stream, &mut self.buf).await {
                Ok(0) => return Err(CloseReason::TransportClose),
                Ok(_) => {}
                Err(_) => return Err(CloseReason::TransportError),
            }
        }
    }

    /// Writes what is still queued and a close frame, within `CLOSE_WAIT`.
    async fn finish(&self, status: &[u8]) {
        self.writer.close(control_frame(Opcode::Close, status));
        let _ = tokio::time::timeout(CLOSE_WAIT, self.writer.closed()).await;
    }
}
