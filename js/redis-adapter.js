'use strict';

const { Adapter } = require('./adapter');
const { encodeArgs, attachBinary } = require('./binary');

/**
 * The cluster requests of @socket.io/redis-adapter v8 (its `RequestType`), the numbers on the
 * wire. Broadcasts never come here: Rust publishes, receives and delivers them.
 */
const TYPE = {
  SOCKETS: 0,
  ALL_ROOMS: 1,
  REMOTE_JOIN: 2,
  REMOTE_LEAVE: 3,
  REMOTE_DISCONNECT: 4,
  REMOTE_FETCH: 5,
  SERVER_SIDE_EMIT: 6,
  BROADCAST: 7,
  BROADCAST_CLIENT_COUNT: 8,
  BROADCAST_ACK: 9,
};

/** Where a message is published (see `clusterPublish` in src/binding/server.rs). */
const CHANNEL = { REQUEST: 0, RESPONSE: 1, RESPONSE_TO: 2 };

const DEFAULT_REQUESTS_TIMEOUT = 5000;

/**
 * Redis options, from the egg-style `redis` option or `createAdapter(opts)`.
 * @typedef {object} RedisOptions
 * @property {string} [url] `redis://[user:password@]host:port[/db]`
 * @property {string} [host]
 * @property {number} [port]
 * @property {string} [username]
 * @property {string} [password]
 * @property {string} [auth_pass] egg-socket.io's (ioredis 3) spelling of `password`
 * @property {number} [db]
 * @property {string} [key] channel prefix, `socket.io` by default
 * @property {number} [requestsTimeout] how long cluster requests wait for answers (ms)
 * @property {boolean} [publishOnSpecificResponseChannel] answer on the asking node's channel
 * @property {boolean} [failFast] whether an unreachable Redis at start is fatal (default true)
 */

/**
 * The Redis connection of one server, shared by its namespaces' adapters.
 */
/** socket.io's broadcast flags as the v8 adapter puts them on the wire. */
function wireFlags(flags) {
  const wire = {};
  if (flags.volatile) wire.volatile = true;
  if (flags.compress !== undefined) wire.compress = flags.compress;
  if (flags.timeout !== undefined) wire.timeout = flags.timeout;
  return wire;
}

class RedisCluster {
  /**
   * @param {import('./server').Server} io
   * @param {RedisOptions} opts
   */
  constructor(io, opts) {
    this.io = io;
    this.opts = opts;
    this.requestsTimeout = Number(opts.requestsTimeout) || DEFAULT_REQUESTS_TIMEOUT;
    const failFast = opts.failFast !== false;
    const port = opts.port === undefined ? undefined : Number(opts.port);
    const db = opts.db === undefined ? undefined : Number(opts.db);
    this.ready = io._native
      .useRedis({
        url: opts.url,
        host: opts.host,
        port,
        username: opts.username,
        password: opts.password !== undefined ? String(opts.password) : opts.auth_pass,
        db,
        key: opts.key,
        failFast,
      });
    /** This node's id in the cluster's messages. */
    this.uid = io._native.clusterUid;
    this.ready.catch((err) => {
      if (!failFast || io._closed) return;
      const where = opts.url || `${opts.host || '127.0.0.1'}:${port || 6379}`;
      // As egg-socket.io does: a server configured for a cluster does not run without it.
      process.nextTick(() => {
        throw new Error(`socket.io-native: ${err.message} (${where}); set redis.failFast: false to start anyway`);
      });
    });
  }
}

class RedisAdapter extends Adapter {
  /**
   * @param {import('./namespace').Namespace} nsp
   * @param {RedisCluster} cluster
   */
  constructor(nsp, cluster) {
    super(nsp);
    this.cluster = cluster;
    /** Pending requests of this node, by request id. */
    this.requests = new Map();
    /** Pending broadcasts with acks of this node, by request id. */
    this.ackRequests = new Map();
    this._native.clusterSubscribe(nsp.name);
  }

  get _native() {
    return this.nsp.server._native;
  }

  get uid() {
    return this.cluster.uid;
  }

  serverCount() {
    return this._native.clusterServerCount(this.nsp.name);
  }

  /** Leaves the namespace's channels (as the v8 adapter's `close`). */
  close() {
    this._native.clusterUnsubscribe(this.nsp.name);
  }

  /** The flags Rust publishes a broadcast with; none (local only) for `.local`. */
  clusterFlags(flags) {
    return flags.local ? undefined : JSON.stringify(wireFlags(flags));
  }

  /** Publishes `message` (an object that may hold Buffers) on a request or response channel. */
  _publish(channel, message, uid) {
    const { data, attachments } = encodeArgs(message);
    this._native.clusterPublish(this.nsp.name, channel, uid, data, attachments);
  }

  /**
   * Answers another node's request (on the shared response channel when `shared`, whatever
   * `publishOnSpecificResponseChannel` says); an answer that cannot be sent (Redis away) is dropped.
   */
  _respond(request, message, shared = false) {
    const specific = !shared && this.cluster.opts.publishOnSpecificResponseChannel && request.uid;
    try {
      if (specific) this._publish(CHANNEL.RESPONSE_TO, message, request.uid);
      else this._publish(CHANNEL.RESPONSE, message);
    } catch {
      // The asking node times out, as it would if this node were gone.
    }
  }

  /**
   * Sends a request every other node answers; resolves with their answers once `numSub - 1`
   * came, rejects after `requestsTimeout`.
   */
  async _ask(type, fields, what) {
    const numSub = await this.serverCount();
    if (numSub <= 1) return [];
    const requestId = requestIdFor();
    return new Promise((resolve, reject) => {
      const answers = [];
      const timeout = setTimeout(() => {
        this.requests.delete(requestId);
        reject(new Error(`timeout reached while waiting for ${what} response`));
      }, this.cluster.requestsTimeout);
      this.requests.set(requestId, {
        type,
        onAnswer: (answer) => {
          answers.push(answer);
          if (answers.length === numSub - 1) {
            clearTimeout(timeout);
            this.requests.delete(requestId);
            resolve(answers);
          }
        },
      });
      try {
        this._publish(CHANNEL.REQUEST, { uid: this.uid, requestId, type, ...fields });
      } catch (err) {
        clearTimeout(timeout);
        this.requests.delete(requestId);
        reject(err);
      }
    });
  }

  async fetchSockets(opts) {
    const local = await super.fetchSockets(opts);
    if (opts.flags && opts.flags.local) return local;
    const answers = await this._ask(
      TYPE.REMOTE_FETCH,
      { opts: { rooms: [...opts.rooms], except: [...opts.except] } },
      'fetchSockets',
    );
    const remote = [];
    for (const answer of answers) {
      if (Array.isArray(answer.sockets)) remote.push(...answer.sockets.map((s) => new RemoteSocket(this, s)));
    }
    return local.concat(remote);
  }

  addSockets(opts, rooms) {
    super.addSockets(opts, rooms);
    if (!opts.flags || !opts.flags.local) this._tell(TYPE.REMOTE_JOIN, { opts: plainOpts(opts), rooms: [...rooms] });
  }

  delSockets(opts, rooms) {
    super.delSockets(opts, rooms);
    if (!opts.flags || !opts.flags.local) this._tell(TYPE.REMOTE_LEAVE, { opts: plainOpts(opts), rooms: [...rooms] });
  }

  disconnectSockets(opts, close) {
    super.disconnectSockets(opts, close);
    if (!opts.flags || !opts.flags.local) this._tell(TYPE.REMOTE_DISCONNECT, { opts: plainOpts(opts), close });
  }

  /** A request nobody answers; lost while Redis is away, as the other nodes are out of reach. */
  _tell(type, fields) {
    try {
      this._publish(CHANNEL.REQUEST, { uid: this.uid, type, ...fields });
    } catch {
      // Redis is away: this node did its part; the others cannot be told.
    }
  }

  serverSideEmit(packet) {
    const ack = typeof packet[packet.length - 1] === 'function' ? packet.pop() : undefined;
    if (!ack) {
      this._tell(TYPE.SERVER_SIDE_EMIT, { data: packet });
      return;
    }
    this._serverSideEmitWithAck(packet, ack).catch((err) => ack(err, []));
  }

  async _serverSideEmitWithAck(packet, ack) {
    const numSub = (await this.serverCount()) - 1;
    if (numSub <= 0) return ack(null, []);
    const requestId = requestIdFor();
    const responses = [];
    const timeout = setTimeout(() => {
      if (!this.requests.delete(requestId)) return;
      ack(new Error(`timeout reached: only ${responses.length} responses received out of ${numSub}`), responses);
    }, this.cluster.requestsTimeout);
    this.requests.set(requestId, {
      type: TYPE.SERVER_SIDE_EMIT,
      onAnswer: (answer) => {
        responses.push(answer.data);
        if (responses.length === numSub) {
          clearTimeout(timeout);
          this.requests.delete(requestId);
          ack(null, responses);
        }
      },
    });
    try {
      this._publish(CHANNEL.REQUEST, { uid: this.uid, requestId, type: TYPE.SERVER_SIDE_EMIT, data: packet });
    } catch (err) {
      clearTimeout(timeout);
      this.requests.delete(requestId);
      throw err;
    }
  }

  /**
   * The other nodes' part of a broadcast with acks: they report how many clients they reached
   * (`onCount`), then each client's answer (`onAck`), until `timeout` ms passed.
   */
  broadcastWithAck(packetArgs, opts, onCount, onAck) {
    if (opts.flags && opts.flags.local) return;
    const requestId = requestIdFor();
    this.ackRequests.set(requestId, { onCount, onAck });
    setTimeout(() => this.ackRequests.delete(requestId), opts.flags.timeout);
    this._tell(TYPE.BROADCAST, {
      requestId,
      packet: { type: 2, data: packetArgs, nsp: this.nsp.name },
      opts: { ...plainOpts(opts), flags: wireFlags(opts.flags) },
    });
  }

  // socket.io 2 era calls, answered cluster-wide.

  clients(rooms, fn) {
    if (typeof rooms === 'function') {
      fn = rooms;
      rooms = [];
    }
    rooms = [].concat(rooms || []);
    const ids = new Set(this.selectIds(rooms, []));
    this._ask(TYPE.SOCKETS, { rooms }, 'sockets').then(
      (answers) => {
        for (const answer of answers) for (const id of answer.sockets || []) ids.add(id);
        if (fn) fn(null, [...ids]);
      },
      (err) => fn && fn(err),
    );
  }

  allRooms(fn) {
    const rooms = new Set(this.rooms.keys());
    const done = this._ask(TYPE.ALL_ROOMS, {}, 'allRooms').then((answers) => {
      for (const answer of answers) for (const room of answer.rooms || []) rooms.add(room);
      return rooms;
    });
    if (typeof fn !== 'function') return done;
    done.then((all) => fn(null, [...all]), (err) => fn(err));
  }

  remoteDisconnect(id, close, fn) {
    if (typeof close === 'function') {
      fn = close;
      close = false;
    }
    if (this.nsp.sockets.has(id)) return super.remoteDisconnect(id, close, fn);
    const requestId = requestIdFor();
    const timeout = setTimeout(() => {
      if (this.requests.delete(requestId) && fn) fn(new Error('timeout reached while waiting for remoteDisconnect response'));
    }, this.cluster.requestsTimeout);
    this.requests.set(requestId, {
      type: TYPE.REMOTE_DISCONNECT,
      onAnswer: () => {
        clearTimeout(timeout);
        this.requests.delete(requestId);
        if (fn) fn(null);
      },
    });
    try {
      this._publish(CHANNEL.REQUEST, { uid: this.uid, requestId, type: TYPE.REMOTE_DISCONNECT, sid: id, close });
    } catch (err) {
      clearTimeout(timeout);
      this.requests.delete(requestId);
      if (fn) process.nextTick(fn, err);
    }
  }

  /** A message from another node (see `[9, …]` in src/binding/events.rs). */
  _onMessage(isResponse, message, attachments) {
    try {
      if (attachments) attachBinary(message, attachments);
    } catch {
      return; // placeholders without their bytes: a malformed message, ignored as the v8 adapter does
    }
    if (isResponse) {
      this._onResponse(message);
      return;
    }
    // A throwing listener (serverSideEmit) surfaces as an uncaught exception, as in _drain.
    this._onRequest(message).catch((err) =>
      process.nextTick(() => {
        throw err;
      }),
    );
  }

  async _onRequest(request) {
    const opts = request.opts ? { rooms: new Set(request.opts.rooms), except: new Set(request.opts.except), flags: { local: true } } : undefined;
    switch (request.type) {
      case TYPE.SOCKETS:
        return this._respond(request, { requestId: request.requestId, sockets: [...this.selectIds(request.rooms || [], [])] });
      case TYPE.ALL_ROOMS:
        return this._respond(request, { requestId: request.requestId, rooms: [...this.rooms.keys()] });
      case TYPE.REMOTE_JOIN:
      case TYPE.REMOTE_LEAVE:
      case TYPE.REMOTE_DISCONNECT: {
        if (opts) {
          if (request.type === TYPE.REMOTE_JOIN) return super.addSockets(opts, request.rooms || []);
          if (request.type === TYPE.REMOTE_LEAVE) return super.delSockets(opts, request.rooms || []);
          return super.disconnectSockets(opts, request.close);
        }
        const socket = this.nsp.sockets.get(request.sid);
        if (!socket) return undefined;
        if (request.type === TYPE.REMOTE_JOIN) socket.join(request.room);
        else if (request.type === TYPE.REMOTE_LEAVE) socket.leave(request.room);
        else socket.disconnect(request.close);
        return this._respond(request, { requestId: request.requestId });
      }
      case TYPE.REMOTE_FETCH: {
        const sockets = await super.fetchSockets(opts);
        return this._respond(request, {
          requestId: request.requestId,
          sockets: sockets.map((socket) => {
            const { sessionStore, ...handshake } = socket.handshake;
            return { id: socket.id, handshake, rooms: [...socket.rooms], data: socket.data };
          }),
        });
      }
      case TYPE.SERVER_SIDE_EMIT: {
        const args = Array.isArray(request.data) ? request.data : [];
        if (request.requestId === undefined) return this.nsp._onServerSideEmit(args);
        let called = false;
        args.push((arg) => {
          if (called) return;
          called = true;
          // Always the shared response channel, as the v8 adapter does for these answers.
          this._respond(request, { type: TYPE.SERVER_SIDE_EMIT, requestId: request.requestId, data: arg }, true);
        });
        return this.nsp._onServerSideEmit(args);
      }
      case TYPE.BROADCAST: {
        const packet = request.packet || {};
        if (!Array.isArray(packet.data) || !opts) return undefined;
        const timeout = request.opts.flags && request.opts.flags.timeout;
        return this.nsp._broadcastWithAckLocal(encodeArgs(packet.data), opts, timeout, (clientCount) => {
          this._respond(request, { type: TYPE.BROADCAST_CLIENT_COUNT, requestId: request.requestId, clientCount });
        }, (arg) => {
          this._respond(request, { type: TYPE.BROADCAST_ACK, requestId: request.requestId, packet: arg });
        });
      }
      default:
        return undefined;
    }
  }

  _onResponse(response) {
    const ackRequest = this.ackRequests.get(response.requestId);
    if (ackRequest) {
      if (response.type === TYPE.BROADCAST_CLIENT_COUNT) ackRequest.onCount(response.clientCount);
      else if (response.type === TYPE.BROADCAST_ACK) ackRequest.onAck(response.packet);
      return;
    }
    const request = this.requests.get(response.requestId);
    if (request) request.onAnswer(response);
  }
}

/** What socket.io's `fetchSockets` gives for a socket of another node. */
class RemoteSocket {
  constructor(adapter, details) {
    this.id = details.id;
    this.handshake = details.handshake;
    this.rooms = new Set(details.rooms);
    this.data = details.data;
    this._nsp = adapter.nsp;
  }

  emit(event, ...args) {
    return this._nsp.to(this.id).emit(event, ...args);
  }

  timeout(ms) {
    return this._nsp.to(this.id).timeout(ms);
  }

  join(room) {
    return this._nsp.in(this.id).socketsJoin(room);
  }

  leave(room) {
    return this._nsp.in(this.id).socketsLeave(room);
  }

  disconnect(close = false) {
    this._nsp.in(this.id).disconnectSockets(close);
    return this;
  }
}

function plainOpts(opts) {
  return { rooms: [...opts.rooms], except: [...opts.except] };
}

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A 6-character id, as the v8 adapter's uid2(6). */
function requestIdFor() {
  let id = '';
  for (let i = 0; i < 6; i++) id += ID_CHARS[Math.floor(Math.random() * ID_CHARS.length)];
  return id;
}

/**
 * `io.adapter(createAdapter({ host, port, … }))` or the `adapter` option: every namespace of the
 * server then shares the cluster through Redis. For code written against
 * @socket.io/redis-adapter, `createAdapter(pubClient, subClient, opts)` also works: the
 * connection settings are read from the (node-redis 4 or ioredis) client, which is not used
 * itself; Rust opens its own connections.
 * @param {RedisOptions | object} [opts]
 */
function createAdapter(opts = {}, subClient, clientOpts) {
  const redisOptions = typeof opts.publish === 'function' ? { ...optionsOfClient(opts), ...clientOpts } : opts;
  const factory = (nsp) => {
    throw new Error(`the Redis adapter is installed by the server (io.adapter(...)), not per namespace (${nsp && nsp.name})`);
  };
  factory.redisOptions = redisOptions;
  return factory;
}

/** Connection settings of a node-redis 4 (`options.url`/`socket`/`database`) or ioredis client. */
function optionsOfClient(client) {
  const options = client.options || {};
  const socket = options.socket || {};
  const picked = {
    url: options.url,
    host: socket.host || options.host,
    port: socket.port || options.port,
    username: options.username,
    password: options.password,
    db: options.database !== undefined ? options.database : options.db,
  };
  return Object.fromEntries(Object.entries(picked).filter(([, value]) => value !== undefined && value !== null));
}

module.exports = { RedisCluster, RedisAdapter, RemoteSocket, createAdapter, TYPE };
