//! The client half of the engine.io v4 / socket.io v5 handshake over a bare websocket.

use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

/// tungstenite allocates its whole read buffer per connection up front (128 KiB by default):
/// 10k clients would cost the generator 1.3 GB. Frames here are small; the buffer grows for a
/// larger one. The write buffer only grows when used: frames fed between flushes are gathered
/// into one write syscall.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(64 * 1024)
}

/// What a client does with one engine.io/socket.io text frame outside its scenario's own packets.
pub enum Control {
    /// An engine.io ping: answer `3`.
    Ping,
    /// An engine.io close `1` or a socket.io disconnect `41`.
    Closed,
    Other,
}

pub fn control(text: &str) -> Control {
    match text {
        "2" => Control::Ping,
        "1" | "41" => Control::Closed,
        _ => Control::Other,
    }
}

/// TCP connect, websocket upgrade, engine.io open `0{...}`, socket.io `40` → `40{"sid":...}`.
pub async fn connect(port: u16, timeout: Duration) -> Result<Ws, String> {
    match tokio::time::timeout(timeout, handshake(port)).await {
        Ok(r) => r,
        Err(_) => Err("handshake timeout".into()),
    }
}

async fn handshake(port: u16) -> Result<Ws, String> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("tcp connect: {e}"))?;
    // Latency numbers must not include Nagle's delay on small frames.
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(url.as_str(), tcp, Some(ws_config()))
            .await
            .map_err(|e| format!("ws upgrade: {e}"))?;
    expect(&mut ws, |t| t.starts_with('0')).await?;
    ws.send(Message::text("40"))
        .await
        .map_err(|e| format!("send 40: {e}"))?;
    expect(&mut ws, |t| t.starts_with("40")).await?;
    Ok(ws)
}

/// Reads until a text frame satisfies `want`, answering pings on the way.
async fn expect(ws: &mut Ws, want: impl Fn(&str) -> bool) -> Result<(), String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                if want(&t) {
                    return Ok(());
                }
                match control(&t) {
                    Control::Ping => ws
                        .send(Message::text("3"))
                        .await
                        .map_err(|e| format!("pong: {e}"))?,
                    Control::Closed => return Err(format!("closed during handshake ({t})")),
                    Control::Other if t.starts_with("44") => {
                        return Err(format!("connect refused: {t}"))
                    }
                    Control::Other => {}
                }
            }
            Some(Ok(Message::Close(_))) | None => return Err("closed during handshake".into()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("read: {e}")),
        }
    }
}
