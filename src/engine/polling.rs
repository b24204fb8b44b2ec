//! HTTP long-polling: a GET waits for queued packets, a POST delivers the client's packets.

use std::sync::Arc;
use std::time::Duration;

use super::error::EngineError;
use super::frame::Frame;
use super::packet::{encode_text, Packet, PacketType};
use super::payload;
use super::payload_v3::{self, Payload};
use super::protocol::Protocol;
use super::request::RequestInfo;
use super::server::{EngineInner, HttpResponse};
use super::session::{CloseReason, Session, Transport};

const UPGRADE_CHECK: Duration = Duration::from_millis(100);
const CLOSE_GRACE: Duration = Duration::from_millis(5);

/// Clears the session's in-flight mark however the poll ends (even if the client went away).
struct PollGuard<'a>(&'a Session);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.end_poll();
    }
}

pub async fn poll(engine: &Arc<EngineInner>, session: Arc<Session>) -> HttpResponse {
    if !session.start_poll() {
        // An overlapping poll: engine.io treats it as a transport error and answers a bare 400.
        session.close(CloseReason::TransportError);
        return HttpResponse::status(400, "");
    }
    let _guard = PollGuard(&session);
    loop {
        // Once upgraded, queued packets belong to the websocket.
        if session.transport() != Transport::Polling {
            return HttpResponse::error(EngineError::BadRequest);
        }
        let mut frames = session.outbox.drain();
        if session.is_closed() {
            // A deliberate close with packets still queued (`socket.disconnect(true)`): send
            // them first and the close packet on the next poll, as engine.io does. In the same
            // payload, socket.io-client would see the close before the deferred DISCONNECT
            // packets and report "transport close" instead of "io server disconnect".
            if session.closed_by_server()
                && !frames.is_empty()
                && engine.session(&session.id).is_some()
            {
                return respond(&session, &frames);
            }
            if session.closed_by_server() {
                frames.push(Frame::text(encode_text(PacketType::Close, "")));
            } else if frames.is_empty() {
                frames.push(noop());
            }
            engine.forget(&session.id);
            return respond(&session, &frames);
        }
        if !frames.is_empty() {
            return respond(&session, &frames);
        }
        if session.is_upgrading() {
            // A poll that arrives during the upgrade waits for it, as engine.io's 100 ms upgrade
            // check does: if the upgrade completes meanwhile, the poll is refused like any poll
            // after an upgrade; otherwise it gets a noop.
            tokio::select! {
                _ = session.outbox.ready() => {}
                _ = tokio::time::sleep(UPGRADE_CHECK) => {
                    if session.is_upgrading() {
                        return respond(&session, &[noop()]);
                    }
                }
            }
            continue;
        }
        session.outbox.ready().await;
    }
}

/// A poll's answer, framed for the session's protocol revision.
pub(super) fn respond(session: &Session, frames: &[Frame]) -> HttpResponse {
    match session.protocol {
        Protocol::V4 => HttpResponse::text(payload::encode(frames)),
        Protocol::V3 => match payload_v3::encode(frames, session.binary_payloads) {
            Payload::Text(text) => HttpResponse::text(text),
            Payload::Binary(bytes) => HttpResponse::binary(bytes),
        },
    }
}

pub fn receive(
    engine: &EngineInner,
    session: &Arc<Session>,
    request: &RequestInfo,
    body: &[u8],
) -> HttpResponse {
    // Only revision 3 clients may post binary payloads.
    let binary = request.header("content-type") == Some("application/octet-stream");
    if binary && session.protocol == Protocol::V4 {
        session.close(CloseReason::TransportError);
        return HttpResponse::status(400, "");
    }
    if body.len() > engine.config.max_payload {
        session.close(CloseReason::TransportError);
        return HttpResponse::status(413, "");
    }
    let packets = if binary {
        payload_v3::decode_binary(body).ok()
    } else {
        std::str::from_utf8(body)
            .ok()
            .and_then(|text| match session.protocol {
                Protocol::V4 => payload::decode(text).ok(),
                Protocol::V3 => payload_v3::decode_text(text).ok(),
            })
    };
    match packets {
        Some(packets) => {
            for packet in packets {
                if packet == Packet::Text(PacketType::Close, String::new())
                    && !session.poll_pending()
                {
                    close_soon(session.clone());
                } else {
                    session.receive(packet);
                }
            }
        }
        None => session.close(CloseReason::ParseError),
    }
    HttpResponse::ok()
}

/// A client's close packet and its own long-poll may arrive together on two connections, which
/// two of our threads can handle in either order; single-threaded engine.io handles them in
/// arrival order. Closing a moment later lets that poll be parked first and answered with a noop.
fn close_soon(session: Arc<Session>) {
    tokio::spawn(async move {
        tokio::time::sleep(CLOSE_GRACE).await;
        session.close(CloseReason::TransportClose);
    });
}

fn noop() -> Frame {
    Frame::text(encode_text(PacketType::Noop, ""))
}
