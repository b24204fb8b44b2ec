//! The machine's ceiling: a bare engine.io/socket.io responder with the benchmark's behaviour
//! (`bcast` → emit `msg` to everyone, `echo` → ack) and nothing else: no rooms, no namespaces
//! beyond `/`, no heartbeat (runs are far shorter than a ping interval), no JS. A broadcast frame
//! is built once and shared by every recipient's queue (tungstenite messages carry `Bytes`, so a
//! clone is a refcount bump). Single-threaded, like Node's main thread.

use crate::emit;
use futures_util::{SinkExt, StreamExt};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// tungstenite allocates its whole read buffer per connection up front (128 KiB by default):
/// 10k connections would cost 1.3 GB. Frames here are small; the buffer grows for a larger one.
/// The write buffer only grows when used: frames fed between flushes are gathered into one write
/// syscall.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(64 * 1024)
}

type Registry = Rc<RefCell<HashMap<u64, mpsc::UnboundedSender<Message>>>>;

pub async fn serve(port: u16) -> i32 {
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("serve-ceiling: bind {port}: {e}");
            return 1;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    emit(&format!("listening {port}"));
    let registry: Registry = Rc::default();
    let mut next_id: u64 = 0;
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        next_id += 1;
        tokio::task::spawn_local(session(tcp, next_id, registry.clone()));
    }
}

async fn session(tcp: TcpStream, id: u64, registry: Registry) {
    let _ = tcp.set_nodelay(true);
    let Ok(ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(ws_config())).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let sid = format!("c{id:015}");
    let open = format!(
        "0{{\"sid\":\"{sid}\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}}"
    );
    if sink.send(Message::text(open)).await.is_err() {
        return;
    }
    // Wait for the socket.io CONNECT to the main namespace.
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with("40") => break,
            Some(Ok(_)) => {}
            _ => return,
        }
    }
    if sink
        .send(Message::text(format!("40{{\"sid\":\"s{id:015}\"}}")))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    registry.borrow_mut().insert(id, tx.clone());
    // Writer: everything queued since the last wake-up goes out in one flush (one syscall).
    let writer = tokio::task::spawn_local(async move {
        while let Some(m) = rx.recv().await {
            if sink.feed(m).await.is_err() {
                return;
            }
            while let Ok(m) = rx.try_recv() {
                if sink.feed(m).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(t) = msg else { continue };
        if let Some(arg) = t.strip_prefix("42[\"bcast\",") {
            let frame = Message::Text(Utf8Bytes::from(format!("42[\"msg\",{arg}")));
            for peer in registry.borrow().values() {
                let _ = peer.send(frame.clone());
            }
        } else if let Some((ack_id, arg)) = echo_parts(&t) {
            let _ = tx.send(Message::text(format!("43{ack_id}[{arg}")));
        }
    }
    registry.borrow_mut().remove(&id);
    writer.abort();
}

/// `42<id>["echo",<arg>]` → (`<id>`, `<arg>]`).
fn echo_parts(t: &str) -> Option<(&str, &str)> {
    let rest = t.strip_prefix("42")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let arg = rest[digits..].strip_prefix("[\"echo\",")?;
    Some((&rest[..digits], arg))
}
