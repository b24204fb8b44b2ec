//! The Redis cluster adapter: this node's half of @socket.io/redis-adapter v8's pub/sub
//! protocol, so Node socket.io servers and ours can share one cluster.
//!
//! Channels, with `key` the prefix (`socket.io` by default):
//! - `key#nsp#` (`key#nsp#room#` when a broadcast has exactly one room): broadcasts, msgpack
//!   `[uid, {type, data, nsp}, {rooms, except, flags}]`, received by PSUBSCRIBE `key#nsp#*`.
//!   Handled here entirely: decoded once and fanned out locally, no JS involved.
//! - `key-request#nsp#`, `key-response#nsp#`, `key-response#nsp#uid#`: cluster requests and
//!   their answers (JSON, or msgpack when binary). They need JS state (handshakes, `data`,
//!   listeners), so they go to JS as JSON with binary placeholders.
//!
//! While Redis is away, messages are dropped rather than queued (memory stays flat); fred
//! reconnects on its own and the subscriptions are made again.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fred::clients::{Client, SubscriberClient};
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::types::config::{Config, ReconnectPolicy, ServerConfig};
use fred::types::Builder;
use parking_lot::RwLock;
use rand::distr::{Alphanumeric, SampleString};
use tokio::sync::broadcast::error::RecvError;

use super::msgpack::{self, Value};

/// Where the cluster's messages land on this node.
pub trait LocalNode: Send + Sync {
    /// Whether `room` has a member here (a one-room broadcast is not even decoded otherwise).
    fn has_room(&self, nsp: &str, room: &str) -> bool;
    /// A broadcast from another node, to this node's sockets.
    fn broadcast(&self, nsp: &str, remote: RemoteBroadcast);
    /// A request (or a response, when `response`) for the JS adapter of `nsp`.
    fn request(&self, nsp: &str, response: bool, json: String, attachments: Vec<Bytes>);
}

pub struct RemoteBroadcast {
    pub data: String,
    pub attachments: Vec<Bytes>,
    pub rooms: Vec<String>,
    pub except: Vec<String>,
    pub volatile: bool,
    /// socket.io's `compress` flag (`false` only when the sender said so).
    pub compress: bool,
}

/// How to reach Redis; `url` wins over the separate fields.
#[derive(Debug, Clone, Default)]
pub struct RedisConfig {
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: Option<u8>,
    pub key: Option<String>,
    /// Fail the start when Redis cannot be reached (otherwise keep trying in the background).
    pub fail_fast: bool,
}

/// Which request channel a message from JS goes to.
#[derive(Debug, Clone, Copy)]
pub enum Channel {
    Request,
    Response,
    /// The response channel of the node whose uid is given (`publishOnSpecificResponseChannel`).
    ResponseTo,
}

pub struct RedisAdapter {
    publisher: Client,
    subscriber: SubscriberClient,
    uid: String,
    key: String,
    /// Namespaces subscribed to, kept here so they are subscribed again after a reconnection.
    namespaces: RwLock<BTreeSet<String>>,
    /// Calls come from the JS thread too: work is spawned here.
    runtime: tokio::runtime::Handle,
}

/// Commands waiting for a connection are bounded: past it they fail instead of piling up.
const MAX_BUFFERED_COMMANDS: usize = 1024;
const RECONNECT_DELAY_MS: u32 = 500;
/// Messages received but not yet handled; bursts of broadcasts wait here.
const MESSAGE_QUEUE: usize = 4096;

impl RedisAdapter {
    pub fn new(config: &RedisConfig, runtime: tokio::runtime::Handle) -> Result<Arc<Self>, String> {
        let mut fred_config = match &config.url {
            Some(url) => Config::from_url(url).map_err(|e| format!("invalid Redis url: {e}"))?,
            None => Config {
                server: ServerConfig::new_centralized(
                    config.host.as_deref().unwrap_or("127.0.0.1"),
                    config.port.unwrap_or(6379),
                ),
                ..Config::default()
            },
        };
        if config.password.is_some() {
            fred_config.password = config.password.clone();
        }
        if config.username.is_some() {
            fred_config.username = config.username.clone();
        }
        if config.db.is_some() {
            fred_config.database = config.db;
        }
        fred_config.fail_fast = config.fail_fast;
        let mut builder = Builder::from_config(fred_config);
        builder
            .set_policy(ReconnectPolicy::new_constant(0, RECONNECT_DELAY_MS))
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(5);
                c.max_command_buffer_len = MAX_BUFFERED_COMMANDS;
                // A broadcast retried after a reconnection would arrive late, or twice.
                c.max_command_attempts = 1;
                // A connection that silently stopped answering (no FIN, say a partition) is
                // closed and made again rather than left to pile up commands.
                c.unresponsive.max_timeout = Some(Duration::from_secs(5));
                c.unresponsive.interval = Duration::from_secs(1);
            })
            .with_performance_config(|p| {
                p.default_command_timeout = Duration::from_secs(5);
                p.broadcast_channel_capacity = MESSAGE_QUEUE;
            });
        let publisher = builder.build().map_err(|e| e.to_string())?;
        let subscriber = builder
            .build_subscriber_client()
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(Self {
            publisher,
            subscriber,
            uid: Alphanumeric.sample_string(&mut rand::rng(), 6),
            key: config.key.clone().unwrap_or_else(|| "socket.io".to_owned()),
            namespaces: RwLock::new(BTreeSet::new()),
            runtime,
        }))
    }

    /// This node's id in the cluster (messages carrying it are our own echoes).
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// Connects both clients and starts delivering messages to `local`; fails when Redis
    /// cannot be reached and `fail_fast` is set.
    pub async fn start(self: &Arc<Self>, local: Arc<dyn LocalNode>) -> Result<(), String> {
        let mut messages = self.subscriber.message_rx();
        let mut reconnects = self.subscriber.reconnect_rx();
        let weak = Arc::downgrade(self);
        let weak_local = Arc::downgrade(&local);
        self.runtime.spawn(async move {
            loop {
                let message = match messages.recv().await {
                    Ok(message) => message,
                    // Past the queue's capacity the oldest messages are lost (memory stays
                    // bounded, as Redis itself drops a subscriber that falls too far behind).
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                let (Some(adapter), Some(local)) = (weak.upgrade(), weak_local.upgrade()) else {
                    return;
                };
                if let Some(payload) = message.value.as_bytes() {
                    adapter.on_message(&message.channel, payload, local.as_ref());
                }
            }
        });
        let weak = Arc::downgrade(self);
        self.runtime.spawn(async move {
            while reconnects.recv().await.is_ok() {
                let Some(adapter) = weak.upgrade() else {
                    return;
                };
                adapter.subscribe_all().await;
            }
        });
        let (publisher, subscriber) = tokio::join!(self.publisher.init(), self.subscriber.init());
        publisher
            .and(subscriber)
            .map_err(|e| format!("cannot reach Redis: {e}"))?;
        self.subscribe_all().await;
        Ok(())
    }

    async fn subscribe_all(&self) {
        let namespaces: Vec<String> = self.namespaces.read().iter().cloned().collect();
        for nsp in namespaces {
            self.subscribe_now(&nsp).await;
        }
    }

    /// Subscribes to the channels of namespace `nsp` (once; again after each reconnection).
    pub fn subscribe(self: &Arc<Self>, nsp: &str) {
        if !self.namespaces.write().insert(nsp.to_owned()) {
            return;
        }
        let adapter = self.clone();
        let nsp = nsp.to_owned();
        self.runtime
            .spawn(async move { adapter.subscribe_now(&nsp).await });
    }

    /// Leaves the channels of namespace `nsp` (a dynamic namespace that went away).
    pub fn unsubscribe(self: &Arc<Self>, nsp: &str) {
        if !self.namespaces.write().remove(nsp) {
            return;
        }
        let adapter = self.clone();
        let key = &self.key;
        let pattern = format!("{key}#{nsp}#*");
        let channels = vec![
            format!("{key}-request#{nsp}#"),
            format!("{key}-response#{nsp}#"),
            format!("{key}-response#{nsp}#{}#", self.uid),
        ];
        self.runtime.spawn(async move {
            if adapter.subscriber.is_connected() {
                let _ = adapter.subscriber.punsubscribe(pattern).await;
                let _ = adapter.subscriber.unsubscribe(channels).await;
            }
        });
    }

    async fn subscribe_now(&self, nsp: &str) {
        if !self.subscriber.is_connected() {
            return;
        }
        let key = &self.key;
        let _ = self.subscriber.psubscribe(format!("{key}#{nsp}#*")).await;
        let _ = self
            .subscriber
            .subscribe(vec![
                format!("{key}-request#{nsp}#"),
                format!("{key}-response#{nsp}#"),
                format!("{key}-response#{nsp}#{}#", self.uid),
            ])
            .await;
    }

    /// Publishes a broadcast made on this node (one message, built once). Dropped while Redis is
    /// away: the other nodes cannot be reached then anyway.
    pub fn publish_broadcast(
        self: &Arc<Self>,
        nsp: &str,
        rooms: &[String],
        except: &[String],
        flags: Vec<(String, Value)>,
        data: &str,
        attachments: &[&[u8]],
    ) {
        if !self.publisher.is_connected() {
            return;
        }
        let Ok(data) = msgpack::from_json(data, attachments) else {
            return;
        };
        let strings =
            |items: &[String]| Value::Array(items.iter().cloned().map(Value::Str).collect());
        let message = Value::Array(vec![
            Value::Str(self.uid.clone()),
            Value::Map(vec![
                ("type".into(), Value::Int(2)),
                ("data".into(), data),
                ("nsp".into(), Value::Str(nsp.to_owned())),
            ]),
            Value::Map(vec![
                ("rooms".into(), strings(rooms)),
                ("except".into(), strings(except)),
                ("flags".into(), Value::Map(flags)),
            ]),
        ]);
        let channel = match rooms {
            [room] => format!("{}#{nsp}#{room}#", self.key),
            _ => format!("{}#{nsp}#", self.key),
        };
        self.publish(channel, Bytes::from(msgpack::encode(&message)));
    }

    /// Publishes a request or response that JS built: its JSON text as is (what Node's adapter
    /// sends too), or msgpack when it carries binary.
    pub fn publish_json(
        self: &Arc<Self>,
        nsp: &str,
        channel: Channel,
        target_uid: Option<&str>,
        json: &str,
        attachments: &[&[u8]],
    ) -> Result<(), String> {
        if !self.publisher.is_connected() {
            return Err("Redis is not connected".to_owned());
        }
        let key = &self.key;
        let channel = match (channel, target_uid) {
            (Channel::Request, _) => format!("{key}-request#{nsp}#"),
            (Channel::ResponseTo, Some(uid)) => format!("{key}-response#{nsp}#{uid}#"),
            _ => format!("{key}-response#{nsp}#"),
        };
        let payload = if attachments.is_empty() {
            Bytes::copy_from_slice(json.as_bytes())
        } else {
            let value = msgpack::from_json(json, attachments).map_err(|e| e.to_string())?;
            Bytes::from(msgpack::encode(&value))
        };
        self.publish(channel, payload);
        Ok(())
    }

    fn publish(&self, channel: String, payload: Bytes) {
        let publisher = self.publisher.clone();
        self.runtime.spawn(async move {
            let _: Result<i64, _> = publisher.publish(channel, payload).await;
        });
    }

    /// How many nodes serve namespace `nsp`: the subscribers of its request channel.
    pub async fn server_count(&self, nsp: &str) -> Result<u32, String> {
        let channel = format!("{}-request#{nsp}#", self.key);
        let reply: Vec<fred::types::Value> = self
            .publisher
            .pubsub_numsub(channel)
            .await
            .map_err(|e| format!("cannot count the servers: {e}"))?;
        Ok(reply.get(1).and_then(|count| count.as_u64()).unwrap_or(0) as u32)
    }

    pub async fn close(&self) {
        let _ = tokio::join!(self.subscriber.quit(), self.publisher.quit());
    }

    fn on_message(&self, channel: &str, payload: &[u8], local: &dyn LocalNode) {
        let key = &self.key;
        if let Some(rest) = channel
            .strip_prefix(key.as_str())
            .and_then(|c| c.strip_prefix('#'))
        {
            if let Some((nsp, room)) = self.split_namespace(rest) {
                self.on_broadcast(&nsp, room, payload, local);
            }
            return;
        }
        let (response, rest) = if let Some(rest) = channel.strip_prefix(&format!("{key}-request#"))
        {
            (false, rest)
        } else if let Some(rest) = channel.strip_prefix(&format!("{key}-response#")) {
            (true, rest)
        } else {
            return;
        };
        let Some((nsp, _)) = self.split_namespace(rest) else {
            return;
        };
        let decoded = if payload.first() == Some(&b'{') {
            std::str::from_utf8(payload)
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
        } else {
            msgpack::decode(payload).ok()
        };
        let Some(message) = decoded else {
            return;
        };
        // Our own requests were already carried out here.
        if !response && message.get("uid").and_then(Value::as_str) == Some(self.uid.as_str()) {
            return;
        }
        let mut attachments = Vec::new();
        let json = msgpack::to_json(&message, &mut attachments);
        local.request(&nsp, response, json, attachments);
    }

    /// `nsp#rest`: the longest subscribed namespace the channel continues, and what follows it
    /// (a room and its closing `#`, or nothing).
    fn split_namespace<'c>(&self, rest: &'c str) -> Option<(String, &'c str)> {
        let namespaces = self.namespaces.read();
        namespaces
            .iter()
            .filter(|nsp| {
                rest.strip_prefix(nsp.as_str())
                    .is_some_and(|after| after.starts_with('#'))
            })
            .max_by_key(|nsp| nsp.len())
            .map(|nsp| (nsp.clone(), &rest[nsp.len() + 1..]))
    }

    fn on_broadcast(&self, nsp: &str, room: &str, payload: &[u8], local: &dyn LocalNode) {
        let room = room.strip_suffix('#').unwrap_or(room);
        if !room.is_empty() && !local.has_room(nsp, room) {
            return;
        }
        let Ok(Value::Array(parts)) = msgpack::decode(payload) else {
            return;
        };
        let [uid, packet, opts, ..] = parts.as_slice() else {
            return;
        };
        if uid.as_str() == Some(self.uid.as_str()) {
            return;
        }
        let packet_nsp = packet.get("nsp").and_then(Value::as_str).unwrap_or("/");
        if packet_nsp != nsp {
            return;
        }
        let Some(data @ Value::Array(_)) = packet.get("data") else {
            return;
        };
        let keys = |field: &str| -> Vec<String> {
            match opts.get(field) {
                Some(Value::Array(items)) => items.iter().filter_map(Value::to_key).collect(),
                _ => Vec::new(),
            }
        };
        let flag = |name: &str| opts.get("flags").and_then(|flags| flags.get(name));
        let volatile = flag("volatile").is_some_and(Value::is_truthy);
        let compress = !matches!(flag("compress"), Some(Value::Bool(false)));
        let mut attachments = Vec::new();
        let data = msgpack::to_json(data, &mut attachments);
        local.broadcast(
            nsp,
            RemoteBroadcast {
                data,
                attachments,
                rooms: keys("rooms"),
                except: keys("except"),
                volatile,
                compress,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Recorder {
        rooms: Vec<String>,
        broadcasts: Mutex<Vec<(String, RemoteBroadcast)>>,
        requests: Mutex<Vec<(String, bool, String)>>,
    }

    impl LocalNode for Recorder {
        fn has_room(&self, _nsp: &str, room: &str) -> bool {
            self.rooms.iter().any(|r| r == room)
        }
        fn broadcast(&self, nsp: &str, remote: RemoteBroadcast) {
            self.broadcasts.lock().push((nsp.to_owned(), remote));
        }
        fn request(&self, nsp: &str, response: bool, json: String, _attachments: Vec<Bytes>) {
            self.requests.lock().push((nsp.to_owned(), response, json));
        }
    }

    fn adapter(namespaces: &[&str]) -> Arc<RedisAdapter> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let adapter = RedisAdapter::new(&RedisConfig::default(), runtime.handle().clone()).unwrap();
        adapter
            .namespaces
            .write()
            .extend(namespaces.iter().map(|n| n.to_string()));
        adapter
    }

    fn broadcast_message(uid: &str, nsp: &str, rooms: &[&str]) -> Vec<u8> {
        let strings = |items: &[&str]| {
            Value::Array(items.iter().map(|s| Value::Str(s.to_string())).collect())
        };
        msgpack::encode(&Value::Array(vec![
            Value::Str(uid.into()),
            Value::Map(vec![
                ("type".into(), Value::Int(2)),
                (
                    "data".into(),
                    Value::Array(vec![
                        Value::Str("ev".into()),
                        Value::Bin(Bytes::from_static(&[7])),
                    ]),
                ),
                ("nsp".into(), Value::Str(nsp.into())),
            ]),
            Value::Map(vec![
                ("rooms".into(), strings(rooms)),
                ("except".into(), strings(&[])),
                (
                    "flags".into(),
                    Value::Map(vec![("volatile".into(), Value::Bool(true))]),
                ),
            ]),
        ]))
    }

    #[test]
    fn a_broadcast_of_another_node_reaches_the_namespace_it_names() {
        let adapter = adapter(&["/", "/chat"]);
        let local = Recorder::default();
        adapter.on_message(
            "socket.io#/chat#",
            &broadcast_message("other", "/chat", &[]),
            &local,
        );
        let broadcasts = local.broadcasts.lock();
        let (nsp, remote) = &broadcasts[0];
        assert_eq!(nsp, "/chat");
        assert_eq!(remote.data, r#"["ev",{"_placeholder":true,"num":0}]"#);
        assert_eq!(remote.attachments, [Bytes::from_static(&[7])]);
        assert!(remote.volatile);
    }

    #[test]
    fn echoes_other_namespaces_and_absent_rooms_are_skipped() {
        let adapter = adapter(&["/"]);
        let local = Recorder {
            rooms: vec!["here".into()],
            ..Default::default()
        };
        let own = adapter.uid().to_owned();
        adapter.on_message("socket.io#/#", &broadcast_message(&own, "/", &[]), &local);
        adapter.on_message(
            "socket.io#/#",
            &broadcast_message("x", "/other", &[]),
            &local,
        );
        // Not even decoded: these bytes are no msgpack message at all.
        adapter.on_message("socket.io#/#elsewhere#", b"\xc1", &local);
        adapter.on_message(
            "socket.io#/#here#",
            &broadcast_message("x", "/", &["here"]),
            &local,
        );
        let broadcasts = local.broadcasts.lock();
        assert_eq!(broadcasts.len(), 1);
        assert_eq!(broadcasts[0].1.rooms, ["here"]);
    }

    #[test]
    fn requests_go_up_as_json_except_our_own() {
        let adapter = adapter(&["/"]);
        let local = Recorder::default();
        let own = format!(r#"{{"uid":"{}","type":6,"data":["a"]}}"#, adapter.uid());
        adapter.on_message("socket.io-request#/#", own.as_bytes(), &local);
        adapter.on_message(
            "socket.io-request#/#",
            br#"{"uid":"x","type":1,"requestId":"r"}"#,
            &local,
        );
        let response = msgpack::encode(&Value::Map(vec![(
            "requestId".into(),
            Value::Str("r".into()),
        )]));
        adapter.on_message("socket.io-response#/#", &response, &local);
        assert_eq!(
            *local.requests.lock(),
            [
                (
                    "/".to_owned(),
                    false,
                    r#"{"uid":"x","type":1,"requestId":"r"}"#.to_owned()
                ),
                ("/".to_owned(), true, r#"{"requestId":"r"}"#.to_owned()),
            ]
        );
    }
}
