//! `NativeServer`: the one object JS holds. Every method is a quick, non-blocking call on the
//! Node thread, except the two that return a Promise (polling requests handed over by Node).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, Float64Array, FnArgs, Function, PromiseRaw};
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::adapter::msgpack;
use crate::adapter::redis::{Channel, LocalNode, RedisAdapter, RedisConfig};
use crate::engine::http::HttpHook;
use crate::engine::protocol::Protocol;
use crate::engine::request::RequestInfo;
use crate::engine::server::{EngineInner, HandshakeDecision, HandshakeHook};
use crate::entry::{handoff, listener, upgrade};
use crate::protocol::broadcast::Target;
use crate::protocol::server::{Outgoing, ProtocolInner};

use super::events::{EventQueue, NativeBatch};
use super::http_hook::HttpHooks;
use super::options::NativeOptions;
use super::questions::Questions;

#[napi]
pub struct NativeServer {
    engine: Arc<EngineInner>,
    protocol: Arc<ProtocolInner>,
    events: Arc<EventQueue>,
    shutdown: CancellationToken,
    handshake_requests: parking_lot::Mutex<Option<Arc<Questions<HandshakeDecision>>>>,
    http_hooks: parking_lot::Mutex<Option<Arc<HttpHooks>>>,
    /// Our own listener's task; it ends (and frees the port) after `shutdown` is cancelled.
    listener: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The Redis cluster adapter, once `useRedis` was called.
    cluster: parking_lot::Mutex<Option<Arc<RedisAdapter>>>,
}

/// How to reach Redis (`redis` option or `createAdapter(opts)`).
#[napi(object)]
pub struct NativeRedisOptions {
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u32>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: Option<u32>,
    pub key: Option<String>,
    /// Reject when Redis cannot be reached at start (true), or keep trying in the background.
    pub fail_fast: bool,
}

/// A request Node's HTTP server received under the engine path.
#[napi(object)]
pub struct NativeRequest {
    pub method: String,
    pub url: String,
    /// Node's `rawHeaders`: `[name, value, name, value, …]`.
    pub headers: Vec<String>,
    pub remote_address: String,
    pub secure: bool,
}

/// Which sockets a broadcast selects.
#[napi(object)]
pub struct NativeTarget {
    pub rooms: Vec<String>,
    pub except: Vec<String>,
}

#[napi(object)]
pub struct NativeResponse {
    pub status: u32,
    /// `[name, value, name, value, …]`, without `Content-Length`.
    pub headers: Vec<String>,
    pub body: Buffer,
}

/// Which HTTP hooks JS wants asked or told about.
#[napi(object)]
pub struct NativeHttpWants {
    /// The CORS origin is a function or a RegExp.
    pub cors: bool,
    /// `initial_headers` or `headers` listeners exist.
    pub headers: bool,
    pub connection_error: bool,
    /// `io.engine.on('connection')`: report each new engine session.
    pub connection: bool,
}

/// The flags of an emit or broadcast, as `js/flags.js` packs them.
const VOLATILE: u32 = 1;
const NO_COMPRESS: u32 = 2;

/// Between the acks of `ack_batch`.
const ACK_SEPARATOR: char = '\u{1e}';

/// Borrows the JS values for the length of the call: each attachment is copied once, into the
/// frame that carries it.
fn outgoing<'a>(data: &'a str, attachments: &'a Option<Vec<Buffer>>, flags: u32) -> Outgoing<'a> {
    Outgoing {
        data,
        compress: flags & NO_COMPRESS == 0,
        attachments: attachments
            .iter()
            .flatten()
            .map(|buffer| &buffer[..])
            .collect(),
    }
}

/// Header pairs arrive flattened (`[name, value, name, value, …]`), as Node's `rawHeaders`.
fn header_pairs(flat: Vec<String>) -> Vec<(String, String)> {
    let mut pairs = Vec::with_capacity(flat.len() / 2);
    let mut iter = flat.into_iter();
    while let (Some(name), Some(value)) = (iter.next(), iter.next()) {
        pairs.push((name.to_ascii_lowercase(), value));
    }
    pairs
}

fn optional_id(id: i64) -> Option<u64> {
    (id >= 0).then_some(id as u64)
}

#[napi]
impl NativeServer {
    /// `on_events` is called (with no arguments) whenever events are waiting in `takeEvents()`.
    #[napi(constructor)]
    pub fn new(options: NativeOptions, on_events: Function<(), ()>) -> Result<Self> {
        // Weak: what keeps Node alive is the http.Server, or the JS side while we listen.
        let wake = on_events
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(|_| Ok(()))?;
        let events = Arc::new(EventQueue::new(wake));
        let runtime =
            napi::bindgen_prelude::within_runtime_if_available(tokio::runtime::Handle::try_current)
                .map_err(|e| Error::from_reason(format!("no async runtime: {e}")))?;
        let protocol = ProtocolInner::new(
            events.clone(),
            Duration::from_millis(options.connect_timeout.into()),
            options.recovery_window(),
            runtime,
        );
        let engine = EngineInner::new(options.engine_config()?, Arc::new(protocol.clone()));
        Ok(Self {
            engine,
            protocol,
            events,
            shutdown: CancellationToken::new(),
            handshake_requests: parking_lot::Mutex::new(None),
            http_hooks: parking_lot::Mutex::new(None),
            listener: parking_lot::Mutex::new(None),
            cluster: parking_lot::Mutex::new(None),
        })
    }

    /// Joins the Redis cluster: resolves once connected; rejects when Redis cannot be reached and
    /// `failFast` is set.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn use_redis<'env>(
        &self,
        env: &'env Env,
        options: NativeRedisOptions,
    ) -> Result<PromiseRaw<'env, ()>> {
        let config = RedisConfig {
            url: options.url,
            host: options.host,
            port: options.port.and_then(|p| u16::try_from(p).ok()),
            username: options.username,
            password: options.password,
            db: options.db.and_then(|d| u8::try_from(d).ok()),
            key: options.key,
            fail_fast: options.fail_fast,
        };
        let runtime =
            napi::bindgen_prelude::within_runtime_if_available(tokio::runtime::Handle::current);
        let adapter = RedisAdapter::new(&config, runtime).map_err(Error::from_reason)?;
        *self.cluster.lock() = Some(adapter.clone());
        let local: Arc<dyn LocalNode> = self.protocol.clone();
        env.spawn_future(async move { adapter.start(local).await.map_err(Error::from_reason) })
    }

    /// This node's id in the cluster (known before the connection is made).
    #[napi(getter)]
    pub fn cluster_uid(&self) -> Option<String> {
        self.cluster
            .lock()
            .as_ref()
            .map(|cluster| cluster.uid().to_owned())
    }

    fn cluster(&self) -> Result<Arc<RedisAdapter>> {
        self.cluster
            .lock()
            .clone()
            .ok_or_else(|| Error::from_reason("no cluster adapter"))
    }

    /// Subscribes to the cluster channels of namespace `nsp`.
    #[napi]
    pub fn cluster_subscribe(&self, nsp: String) -> Result<()> {
        self.cluster()?.subscribe(&nsp);
        Ok(())
    }

    /// Leaves the cluster channels of namespace `nsp` (a dynamic namespace removed when empty).
    #[napi]
    pub fn cluster_unsubscribe(&self, nsp: String) -> Result<()> {
        self.cluster()?.unsubscribe(&nsp);
        Ok(())
    }

    /// Publishes a cluster request (`channel` 0), response (1) or response to node `uid` (2):
    /// the JSON text as is, msgpack when there are attachments. Throws while Redis is away.
    #[napi]
    pub fn cluster_publish(
        &self,
        nsp: String,
        channel: u32,
        uid: Option<String>,
        json: String,
        attachments: Option<Vec<Buffer>>,
    ) -> Result<()> {
        let channel = match channel {
            0 => Channel::Request,
            1 => Channel::Response,
            _ => Channel::ResponseTo,
        };
        let message = outgoing(&json, &attachments, 0);
        self.cluster()?
            .publish_json(
                &nsp,
                channel,
                uid.as_deref(),
                json.as_str(),
                &message.attachments,
            )
            .map_err(Error::from_reason)
    }

    /// How many servers share namespace `nsp` (PUBSUB NUMSUB of its request channel).
    #[napi(ts_return_type = "Promise<number>")]
    pub fn cluster_server_count<'env>(
        &self,
        env: &'env Env,
        nsp: String,
    ) -> Result<PromiseRaw<'env, u32>> {
        let adapter = self.cluster()?;
        env.spawn_future(
            async move { adapter.server_count(&nsp).await.map_err(Error::from_reason) },
        )
    }

    /// Listens on `port` (0 picks a free one) and returns the bound port.
    #[napi]
    pub fn listen(&self, port: u32, host: Option<String>) -> Result<u32> {
        let port = u16::try_from(port).map_err(|_| Error::from_reason("invalid port"))?;
        // Like Node's `listen(port)`: dual-stack `::` when there is no host, IPv4 if IPv6 is off.
        let hosts = match host {
            Some(host) => vec![host],
            None => vec!["::".to_owned(), "0.0.0.0".to_owned()],
        };
        let mut last_error = None;
        let mut bound_listener = None;
        for host in &hosts {
            match std::net::TcpListener::bind((host.as_str(), port)) {
                Ok(listener) => {
                    bound_listener = Some(listener);
                    break;
                }
                Err(e) => {
                    let busy = e.kind() == std::io::ErrorKind::AddrInUse;
                    last_error = Some(format!("listen {host}:{port}: {e}"));
                    if busy {
                        break;
                    }
                }
            }
        }
        let std_listener =
            bound_listener.ok_or_else(|| Error::from_reason(last_error.unwrap_or_default()))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| Error::from_reason(e.to_string()))?;
        let bound = std_listener
            .local_addr()
            .map_err(|e| Error::from_reason(e.to_string()))?
            .port();
        let engine = self.engine.clone();
        let shutdown = self.shutdown.clone();
        let task = napi::bindgen_prelude::spawn(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) {
                listener::serve(listener, engine, shutdown).await;
            }
        });
        *self.listener.lock() = Some(task);
        Ok(bound.into())
    }

    /// Everything that happened since the last call, as one batch. Broadcasts made while JS
    /// dispatches it are flushed together at `releaseBroadcasts`.
    #[napi]
    pub fn take_events(&self) -> NativeBatch {
        self.protocol.hold_broadcasts();
        self.events.take()
    }

    /// Ends the dispatch of a batch: the broadcasts it made go out now.
    #[napi]
    pub fn release_broadcasts(&self) {
        self.protocol.release_broadcasts();
    }

    /// Answers a polling (or error) request that Node's HTTP server received under our path.
    #[napi(ts_return_type = "Promise<NativeResponse>")]
    pub fn handle_request<'env>(
        &self,
        env: &'env Env,
        request: NativeRequest,
        body: Buffer,
    ) -> Result<PromiseRaw<'env, NativeResponse>> {
        let engine = self.engine.clone();
        let request = RequestInfo::new(
            request.method,
            request.url,
            header_pairs(request.headers),
            request.remote_address,
            request.secure,
        );
        let body = Bytes::from(Vec::<u8>::from(body));
        env.spawn_future(async move {
            let response = engine.serve_http(request, body).await;
            let headers = response
                .headers
                .into_iter()
                .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
                .flat_map(|(name, value)| [name.into_owned(), value])
                .collect();
            Ok(NativeResponse {
                status: response.status.into(),
                headers,
                body: Buffer::from(response.body.to_vec()),
            })
        })
    }

    /// Takes over a websocket upgrade that Node parsed: duplicates the socket's descriptor so the
    /// caller can destroy its own handle; frames never pass through JS. `secure`: the client
    /// came over TLS (whose bytes Node relays, see `js/tls-relay.js`).
    #[napi]
    pub fn handle_upgrade(
        &self,
        fd: i32,
        url: String,
        headers: Vec<String>,
        head: Buffer,
        remote_address: String,
        secure: Option<bool>,
    ) -> Result<()> {
        let stream = handoff::duplicate(fd).map_err(|e| Error::new(Status::GenericFailure, e))?;
        let request = RequestInfo::new(
            "GET".to_owned(),
            url,
            header_pairs(headers),
            remote_address,
            secure.unwrap_or(false),
        );
        let head = Bytes::from(Vec::<u8>::from(head));
        let engine = self.engine.clone();
        napi::bindgen_prelude::spawn(async move {
            if let Ok(stream) = tokio::net::TcpStream::from_std(stream) {
                let _ = upgrade::serve(engine, stream, request, head).await;
            }
        });
        Ok(())
    }

    #[napi]
    pub fn accept(&self, conn: u32, nsp: String, sid: String, pid: Option<String>) -> bool {
        self.protocol.accept(conn, &nsp, &sid, pid.as_deref())
    }

    /// Connection state recovery: sends a returning socket (in `rooms`) the packets it missed
    /// after `offset`, the last one it saw; false, sending nothing, when `offset` is unknown
    /// (too old, or from another server) and the socket cannot recover.
    #[napi]
    pub fn replay_missed(
        &self,
        conn: u32,
        nsp: String,
        offset: String,
        rooms: Vec<String>,
    ) -> bool {
        self.protocol.replay_missed(conn, &nsp, &offset, &rooms)
    }

    #[napi]
    pub fn reject(&self, conn: u32, nsp: String, payload: String) {
        self.protocol.reject(conn, &nsp, &payload)
    }

    /// Sends an event to one socket; `ack` is the ack id or -1; `flags` as `js/flags.js`.
    #[napi]
    pub fn emit(
        &self,
        conn: u32,
        nsp: String,
        ack: i64,
        data: String,
        attachments: Option<Vec<Buffer>>,
        flags: u32,
    ) -> bool {
        self.protocol.emit(
            conn,
            &nsp,
            optional_id(ack),
            outgoing(&data, &attachments, flags),
            flags & VOLATILE != 0,
        )
    }

    #[napi]
    pub fn ack(
        &self,
        conn: u32,
        nsp: String,
        id: i64,
        data: String,
        attachments: Option<Vec<Buffer>>,
    ) -> bool {
        match optional_id(id) {
            Some(id) => self
                .protocol
                .ack(conn, &nsp, id, outgoing(&data, &attachments, 0)),
            None => false,
        }
    }

    /// The acks of namespace `nsp` that JS gathered while dispatching a batch (see `js/wire.js`),
    /// in one call: `pairs` holds (connection, ack id) pairs, `data` their arguments' JSON texts
    /// joined by U+001E, which JSON text never holds unescaped.
    #[napi]
    pub fn ack_batch(&self, nsp: String, pairs: Float64Array, data: String) {
        for (pair, text) in pairs.chunks_exact(2).zip(data.split(ACK_SEPARATOR)) {
            if let Some(id) = optional_id(pair[1] as i64) {
                self.protocol
                    .ack(pair[0] as u32, &nsp, id, outgoing(text, &None, 0));
            }
        }
    }

    /// Encodes once and queues the same frames for every recipient; returns how many. With
    /// `clusterFlags` (the JSON of socket.io's broadcast flags) and a cluster adapter, the other
    /// nodes get it too, in one PUBLISH.
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn broadcast(
        &self,
        nsp: String,
        rooms: Vec<String>,
        except: Vec<String>,
        data: String,
        attachments: Option<Vec<Buffer>>,
        flags: u32,
        cluster_flags: Option<String>,
    ) -> u32 {
        let message = outgoing(&data, &attachments, flags);
        if let (Some(cluster_flags), Some(cluster)) = (cluster_flags, self.cluster.lock().clone()) {
            let cluster_flags = match msgpack::from_json(&cluster_flags, &[]) {
                Ok(msgpack::Value::Map(entries)) => entries,
                _ => Vec::new(),
            };
            cluster.publish_broadcast(
                &nsp,
                &rooms,
                &except,
                cluster_flags,
                &data,
                &message.attachments,
            );
        }
        let target = Target { rooms, except };
        let mut count = 0;
        self.protocol
            .broadcast(&nsp, &target, message, flags & VOLATILE != 0, None, |_| {
                count += 1
            });
        count
    }

    /// A broadcast whose recipients all get ack id `ack`; returns their socket ids so JS can wait
    /// for each answer.
    #[napi]
    pub fn broadcast_with_ack(
        &self,
        nsp: String,
        target: NativeTarget,
        data: String,
        attachments: Option<Vec<Buffer>>,
        ack: u32,
        flags: u32,
    ) -> Vec<String> {
        let target = Target {
            rooms: target.rooms,
            except: target.except,
        };
        let mut sids = Vec::new();
        self.protocol.broadcast(
            &nsp,
            &target,
            outgoing(&data, &attachments, flags),
            false,
            Some(ack.into()),
            |sid| sids.push(sid.to_string()),
        );
        sids
    }

    #[napi]
    pub fn join(&self, nsp: String, sid: String, rooms: Vec<String>) {
        self.protocol.join(&nsp, &sid, rooms)
    }

    #[napi]
    pub fn leave(&self, nsp: String, sid: String, room: String) {
        self.protocol.leave(&nsp, &sid, &room)
    }

    #[napi]
    pub fn socket_rooms(&self, nsp: String, sid: String) -> Vec<String> {
        self.protocol.socket_rooms(&nsp, &sid)
    }

    /// `{"room":["sid",…]}` of one namespace.
    #[napi]
    pub fn rooms(&self, nsp: String) -> String {
        self.protocol.rooms_json(&nsp)
    }

    #[napi]
    pub fn disconnect_socket(&self, conn: u32, nsp: String) {
        self.protocol.disconnect_socket(conn, &nsp)
    }

    /// Releases a socket the client disconnected, once JS is done with it (after `disconnecting`).
    #[napi]
    pub fn remove_socket(&self, nsp: String, sid: String) {
        self.protocol.leave_namespace(&nsp, &sid)
    }

    #[napi]
    pub fn close_connection(&self, conn: u32) {
        // A forced close of a polling session with queued packets schedules a tokio task (the
        // grace period before the session is forgotten); this runs on the JS thread, so enter
        // napi's runtime or `tokio::spawn` panics and aborts the process.
        napi::bindgen_prelude::within_runtime_if_available(|| self.protocol.close_connection(conn))
    }

    /// The JSON of a connection's first request (see `RequestInfo::to_json`).
    #[napi]
    pub fn handshake(&self, conn: u32) -> Option<String> {
        Some(self.protocol.session(conn)?.request.to_json())
    }

    /// Installs (or, with no argument, removes) the handshake hooks (`allowRequest`,
    /// `generateId`): `decide(token, requestJson)` must answer with `decideHandshake`, now or later.
    #[napi]
    pub fn set_handshake_hook(
        &self,
        decide: Option<Function<FnArgs<(u32, String)>, ()>>,
    ) -> Result<()> {
        let hook = match decide {
            Some(decide) => {
                let call = decide
                    .build_threadsafe_function::<(u32, String)>()
                    .callee_handled::<false>()
                    .weak::<true>()
                    .build_callback(|ctx| Ok(FnArgs::from(ctx.value)))?;
                let requests = Arc::new(Questions::new(call));
                *self.handshake_requests.lock() = Some(requests.clone());
                Some(requests as Arc<dyn HandshakeHook>)
            }
            None => {
                *self.handshake_requests.lock() = None;
                None
            }
        };
        self.engine.set_handshake_hook(hook);
        Ok(())
    }

    /// The answer to a handshake hook: refused (with the client's message), or accepted with the
    /// session id to use (a random one when none).
    #[napi]
    pub fn decide_handshake(&self, token: u32, allowed: bool, text: Option<String>) {
        if let Some(requests) = self.handshake_requests.lock().as_ref() {
            let decision = if allowed {
                HandshakeDecision::Accept(text)
            } else {
                HandshakeDecision::Refuse(text)
            };
            requests.resolve(token, decision);
        }
    }

    /// Installs the HTTP hooks JS wants (see `http_hook`): `ask(token, json)` must answer with
    /// `answerHttp`, now or later.
    #[napi]
    pub fn set_http_hook(
        &self,
        wants: NativeHttpWants,
        ask: Option<Function<FnArgs<(u32, String)>, ()>>,
    ) -> Result<()> {
        self.events.report_open(wants.connection);
        let questions = match ask.filter(|_| wants.cors || wants.headers) {
            Some(ask) => Some(Questions::new(
                ask.build_threadsafe_function::<(u32, String)>()
                    .callee_handled::<false>()
                    .weak::<true>()
                    .build_callback(|ctx| Ok(FnArgs::from(ctx.value)))?,
            )),
            None => None,
        };
        let hooks = (questions.is_some() || wants.connection_error).then(|| {
            Arc::new(HttpHooks {
                questions,
                events: self.events.clone(),
                cors: wants.cors,
                headers: wants.headers,
                connection_error: wants.connection_error,
            })
        });
        *self.http_hooks.lock() = hooks.clone();
        self.engine
            .set_http_hook(hooks.map(|hooks| hooks as Arc<dyn HttpHook>));
        Ok(())
    }

    /// The answer to an HTTP hook question (see `http_hook`).
    #[napi]
    pub fn answer_http(&self, token: u32, answer: String) {
        if let Some(questions) = self
            .http_hooks
            .lock()
            .as_ref()
            .and_then(|hooks| hooks.questions.as_ref())
        {
            questions.resolve(token, answer);
        }
    }

    /// The engine.io session id (`socket.conn.id`, the `sid` clients send).
    #[napi]
    pub fn engine_id(&self, conn: u32) -> Option<String> {
        Some(self.protocol.session(conn)?.id.to_string())
    }

    /// The engine.io protocol revision of a connection (`socket.conn.protocol`): 3 or 4.
    #[napi]
    pub fn protocol(&self, conn: u32) -> Option<u32> {
        self.protocol
            .session(conn)
            .map(|session| match session.protocol {
                Protocol::V3 => 3,
                Protocol::V4 => 4,
            })
    }

    #[napi]
    pub fn writable(&self, conn: u32) -> bool {
        self.protocol
            .session(conn)
            .is_some_and(|session| session.writable())
    }

    #[napi]
    pub fn transport(&self, conn: u32) -> Option<String> {
        self.protocol
            .session(conn)
            .map(|s| s.transport().name().to_owned())
    }

    #[napi(getter)]
    pub fn clients_count(&self) -> u32 {
        self.engine.clients_count() as u32
    }

    /// Stops listening, closes every session and lets Node exit; resolves once the port is free.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        self.shutdown.cancel();
        self.engine.close_all();
        self.events.shut();
        let listener = self.listener.lock().take();
        if let Some(cluster) = self.cluster.lock().take() {
            // Not awaited: quitting a client that is still reconnecting waits for a timeout.
            napi::bindgen_prelude::spawn(async move { cluster.close().await });
        }
        env.spawn_future(async move {
            if let Some(task) = listener {
                let _ = task.await;
            }
            Ok(())
        })
    }
}
