'use strict';

const { EventEmitter } = require('events');
const { NativeServer } = require('./native/native.js');
const { Wire } = require('./wire');
const { Namespace } = require('./namespace');
const { Client, requestFromHandshake } = require('./client');
const { attachBinary } = require('./binary');
const { resolveOptions, nativeOptions } = require('./options');
const { attachToHttpServer } = require('./attach');
const { corsPolicy, clientBundles, headersObject, headerPairs } = require('./http-options');
const { EggLayer } = require('./egg/layer');
const { RedisCluster, RedisAdapter } = require('./redis-adapter');

const emitLocal = EventEmitter.prototype.emit;

const EVENT = { CONNECT: 0, EVENT: 1, ACK: 2, DISCONNECT: 3, CLOSE: 4, UPGRADE: 5, ERROR: 6, OPEN: 7, CONNECTION_ERROR: 8, CLUSTER: 9 };

/** The engine events Rust reports or asks about only while someone listens. */
const HOOKED_EVENTS = new Set(['connection', 'connection_error', 'headers', 'initial_headers']);

/**
 * `io.engine`: the engine.io server, as far as users look at it. Emits `connection` (each new
 * engine session), `connection_error` (a refused request), `initial_headers` and `headers`
 * (response headers listeners may change) like engine.io.
 */
class Engine extends EventEmitter {
  constructor(io, cors) {
    super();
    this._io = io;
    this._generateId = undefined;
    this._cors = cors;
    this._wants = undefined;
    this._hookQueued = false;
    const changed = (event) => {
      if (!HOOKED_EVENTS.has(event) || this._hookQueued) return;
      // 'newListener' fires before the listener is added: look once both are done.
      this._hookQueued = true;
      queueMicrotask(() => {
        this._hookQueued = false;
        this._installHttpHook();
      });
    };
    this.on('newListener', changed);
    this.on('removeListener', changed);
    if (cors.resolve) this._installHttpHook();
  }

  /** Tells Rust which HTTP hooks to ask or report, when that changed. */
  _installHttpHook() {
    const wants = {
      cors: Boolean(this._cors.resolve),
      headers: this.listenerCount('headers') + this.listenerCount('initial_headers') > 0,
      connectionError: this.listenerCount('connection_error') > 0,
      connection: this.listenerCount('connection') > 0,
    };
    const key = JSON.stringify(wants);
    if (key === this._wants) return;
    this._wants = key;
    const native = this._io._native;
    native.setHttpHook(wants, (token, json) => this._answerHttp(token, JSON.parse(json)));
  }

  /** A question from the HTTP hook (see src/binding/http_hook.rs). */
  _answerHttp(token, question) {
    const native = this._io._native;
    const req = requestFromHandshake(question.request);
    if (question.kind === 'cors') {
      this._cors.resolve(req, (answer) => native.answerHttp(token, answer));
      return;
    }
    const headers = headersObject(question.headers);
    try {
      if (question.initial) this.emit('initial_headers', headers, req);
      this.emit('headers', headers, req);
    } finally {
      native.answerHttp(token, JSON.stringify(headerPairs(headers)));
    }
  }

  /**
   * `(req) => string | Promise<string>`: the id of each new engine.io session. An empty answer,
   * a rejection or an id already in use falls back to a random id.
   */
  get generateId() {
    return this._generateId;
  }

  set generateId(fn) {
    if (fn !== undefined && typeof fn !== 'function') throw new TypeError('engine.generateId must be a function');
    this._generateId = fn;
    this._installHandshakeHook();
  }

  /**
   * Asks JS about each new session only when a hook exists: `allowRequest(req, cb)` first (as in
   * engine.io, the last check of a handshake), then `generateId(req)`.
   */
  _installHandshakeHook() {
    const native = this._io._native;
    const allowRequest = this._io.opts.allowRequest;
    const generateId = this._generateId;
    if (!allowRequest && !generateId) return native.setHandshakeHook();
    native.setHandshakeHook((token, requestJson) => {
      const req = requestFromHandshake(JSON.parse(requestJson));
      const allowed = allowRequest
        ? new Promise((resolve) => allowRequest(req, (message, success) => resolve({ message, success })))
        : Promise.resolve({ success: true });
      allowed
        .then(({ message, success }) => {
          if (!success) return native.decideHandshake(token, false, message ? String(message) : null);
          if (!generateId) return native.decideHandshake(token, true, null);
          return Promise.resolve()
            .then(() => generateId(req))
            .then(
              (id) => native.decideHandshake(token, true, typeof id === 'string' || typeof id === 'number' ? String(id) : null),
              () => native.decideHandshake(token, true, null),
            );
        })
        .catch(() => native.decideHandshake(token, false, null));
    });
  }

  get clientsCount() {
    return this._io._native.clientsCount;
  }

  get opts() {
    return this._io.opts;
  }
}

class Server extends EventEmitter {
  /**
   * @param {number | import('http').Server | object} [srv] a port, an http.Server, or the options
   * @param {object} [opts]
   */
  constructor(srv, opts) {
    super();
    if (srv && typeof srv === 'object' && typeof srv.listen !== 'function') {
      opts = srv;
      srv = undefined;
    }
    this.opts = resolveOptions(opts);
    const cors = corsPolicy(this.opts.cors);
    /** socket.io-client's bundles, served under `path` when `serveClient` is on. */
    this._clientBundles = this.opts.serveClient === false ? undefined : clientBundles();
    this._native = new NativeServer(nativeOptions(this.opts, cors, this._clientBundles), () => this._drain());
    this._wire = new Wire(this._native);
    /** @type {Map<string, Namespace>} */
    this._nsps = new Map();
    /** @type {Map<RegExp | Function, Namespace>} dynamic namespace matchers → parent */
    this._parentNsps = new Map();
    /** @type {Map<number, Client>} */
    this._clients = new Map();
    this.engine = new Engine(this, cors);
    this.httpServer = undefined;
    this._keepAlive = undefined;
    this._detach = undefined;
    /** @type {RedisCluster | undefined} the Redis connection, once a cluster adapter is set */
    this._cluster = undefined;
    this._adapterFactory = undefined;
    this._closed = false;
    const adapter = this.opts.redis ? Object.assign(() => {}, { redisOptions: this.opts.redis }) : this.opts.adapter;
    if (adapter) this.adapter(adapter);
    this.sockets = this.of('/');
    EggLayer.configure(this, this.opts.namespace);
    if (this.opts.generateId) this.engine.generateId = this.opts.generateId;
    else if (this.opts.allowRequest) this.engine._installHandshakeHook();
    if (srv !== undefined && srv !== null) this.attach(srv);
  }

  /** Listens on its own port: everything, HTTP included, is served by Rust. */
  listen(port, opts) {
    if (opts) Object.assign(this.opts, opts);
    if (typeof port === 'object' && port && typeof port.listen === 'function') return this.attach(port);
    this.port = this._native.listen(Number(port) || 0, this.opts.host);
    // Rust's listener does not hold Node's event loop; this timer does, until close().
    this._keepAlive = setInterval(() => {}, 0x7fffffff);
    return this;
  }

  /** Serves on an existing http.Server (or a port, as `listen`). */
  attach(srv, opts) {
    if (opts) Object.assign(this.opts, opts);
    if (typeof srv === 'number' || typeof srv === 'string') return this.listen(srv);
    this.httpServer = srv;
    this._detach = attachToHttpServer(this, srv);
    return this;
  }

  /**
   * Without an argument, the adapter factory in use. With one (`createAdapter(opts)` of this
   * package), every namespace, present and future, shares the Redis cluster.
   */
  adapter(factory) {
    if (factory === undefined) return this._adapterFactory;
    const redisOptions = factory && factory.redisOptions;
    if (!redisOptions) {
      throw new TypeError(
        'io.adapter() takes createAdapter({ host, port, … }) from socket.io-native (its Redis adapter runs in Rust); adapters made for Node socket.io cannot be used',
      );
    }
    if (this._cluster) throw new Error('a cluster adapter is already set');
    this._adapterFactory = factory;
    this._cluster = new RedisCluster(this, redisOptions);
    for (const nsp of this._nsps.values()) nsp.adapter = new RedisAdapter(nsp, this._cluster);
    return this;
  }

  /**
   * @param {string | RegExp | ((name: string, auth: object, next: (err: Error | null, ok: boolean) => void) => void)} name
   * @param {(socket: import('./socket').Socket) => void} [fn] connection listener
   */
  of(name, fn) {
    if (typeof name === 'function' || name instanceof RegExp) {
      const parent = new Namespace(this, `/_${this._parentNsps.size}`);
      parent._children = new Set();
      this._parentNsps.set(name, parent);
      if (fn) parent.on('connect', fn);
      return parent;
    }
    if (name[0] !== '/') name = '/' + name;
    let nsp = this._nsps.get(name);
    if (!nsp) {
      for (const [matcher, parent] of this._parentNsps) {
        if (matcher instanceof RegExp && matcher.test(name)) return this._createChild(parent, name);
      }
      nsp = new Namespace(this, name);
      this._nsps.set(name, nsp);
      if (name !== '/') emitLocal.call(this.sockets, 'new_namespace', nsp);
    }
    if (fn) nsp.on('connect', fn);
    return nsp;
  }

  /** A namespace created from a dynamic parent shares its middleware, routes and listeners. */
  _createChild(parent, name) {
    const child = new Namespace(this, name);
    this._nsps.set(name, child);
    emitLocal.call(this.sockets, 'new_namespace', child);
    child._fns = parent._fns;
    child._egg = parent._egg.forChild(child);
    for (const event of ['connect', 'connection']) {
      for (const listener of parent.listeners(event)) child.on(event, listener);
    }
    parent._children.add(child);
    child._parent = parent;
    return child;
  }

  /** `cleanupEmptyChildNamespaces`: a child namespace goes when its last socket does. */
  _removeChild(child) {
    this._nsps.delete(child.name);
    child._parent._children.delete(child);
    if (child.adapter.close) child.adapter.close();
  }

  use(fn) {
    this.sockets.use(fn);
    return this;
  }

  route(event, handler) {
    this.sockets.route(event, handler);
    return this;
  }

  to(room) {
    return this.sockets.to(room);
  }

  in(room) {
    return this.sockets.in(room);
  }

  except(room) {
    return this.sockets.except(room);
  }

  emit(event, ...args) {
    return this.sockets.emit(event, ...args);
  }

  send(...args) {
    return this.sockets.emit('message', ...args);
  }

  write(...args) {
    return this.sockets.emit('message', ...args);
  }

  get volatile() {
    return this.sockets.volatile;
  }

  timeout(ms) {
    return this.sockets.timeout(ms);
  }

  get local() {
    return this.sockets.local;
  }

  compress(compress) {
    return this.sockets.compress(compress);
  }

  allSockets() {
    return this.sockets.allSockets();
  }

  fetchSockets() {
    return this.sockets.fetchSockets();
  }

  serverSideEmit(event, ...args) {
    return this.sockets.serverSideEmit(event, ...args);
  }

  serverSideEmitWithAck(event, ...args) {
    return this.sockets.serverSideEmitWithAck(event, ...args);
  }

  socketsJoin(room) {
    return this.sockets.socketsJoin(room);
  }

  socketsLeave(room) {
    return this.sockets.socketsLeave(room);
  }

  disconnectSockets(close = false) {
    return this.sockets.disconnectSockets(close);
  }

  /** Closes every connection, stops listening and lets the process exit. */
  close(fn) {
    this._closed = true;
    for (const nsp of this._nsps.values()) {
      for (const socket of [...nsp.sockets.values()]) socket._onclose('server shutting down');
    }
    this._clients.clear();
    const closed = this._native.close();
    clearInterval(this._keepAlive);
    this._keepAlive = undefined;
    const detach = this._detach;
    this._detach = undefined;
    if (this.httpServer) {
      // Hand the path back to the app only once the http.Server has closed: until then, requests
      // on kept-alive connections (a client's last poll) get an engine answer, not the app's page.
      this.httpServer.close((err) => {
        if (detach) detach();
        if (fn) fn(err);
      });
    } else {
      if (detach) detach();
      // Our own listener: call back once Rust has let go of the port.
      closed.then(() => fn && fn());
    }
  }

  /** Drains the events Rust queued: one crossing and one JSON.parse for the whole batch. */
  _drain() {
    const batch = this._native.takeEvents();
    let firstError;
    this._wire.dispatching = true;
    try {
      for (const event of JSON.parse(batch.events)) {
        try {
          this._dispatch(event, batch.attachments);
        } catch (err) {
          // A throwing listener must not cost other clients their events; rethrow it afterwards,
          // as an uncaught exception, like socket.io would.
          if (firstError === undefined) firstError = err;
        }
      }
    } finally {
      this._wire.dispatching = false;
      // What this batch's handlers sent is written together from here.
      this._wire.flush();
      this._native.releaseBroadcasts();
    }
    if (firstError !== undefined) {
      process.nextTick(() => {
        throw firstError;
      });
    }
  }

  /**
   * One event of a batch; its layout is documented in src/binding/events.rs.
   * @param {any[]} event
   * @param {Buffer[] | undefined} attachments the batch's binary attachments
   */
  _dispatch(event, attachments) {
    const conn = event[1];
    const client = this._clients.get(conn);
    switch (event[0]) {
      case EVENT.CONNECT:
        return this._onconnect(client || this._newClient(conn), event[2], event[3], event[4]);
      case EVENT.EVENT: {
        const socket = client && client.sockets.get(event[2]);
        const args = socket && this._args(client, event, attachments);
        if (args) socket._onevent(args, event[3] >= 0 ? event[3] : undefined);
        return;
      }
      case EVENT.ACK: {
        const socket = client && client.sockets.get(event[2]);
        const args = socket && this._args(client, event, attachments);
        if (args) socket._onack(event[3], args);
        return;
      }
      case EVENT.DISCONNECT: {
        const socket = client && client.sockets.get(event[2]);
        if (socket) socket._onclose('client namespace disconnect');
        return;
      }
      case EVENT.CLOSE:
        if (client) {
          this._clients.delete(conn);
          client._onclose(event[2]);
        }
        return;
      case EVENT.UPGRADE:
        // Nobody listens for the upgrade on a connection object nobody has asked for.
        if (client && client._conn) client._conn.emit('upgrade', client._conn.transport);
        return;
      case EVENT.ERROR:
        if (client) client._onerror(new Error(event[2]));
        return;
      case EVENT.OPEN: {
        const connection = (client || this._newClient(conn)).conn;
        connection._id = event[2];
        this.engine.emit('connection', connection);
        return;
      }
      case EVENT.CLUSTER: {
        const [, name, isResponse, message, first, count] = event;
        const nsp = this._nsps.get(name);
        if (!nsp || !nsp.adapter._onMessage) return;
        const binary = count ? attachments.slice(first, first + count) : undefined;
        return nsp.adapter._onMessage(isResponse === 1, message, binary);
      }
      case EVENT.CONNECTION_ERROR: {
        const [, code, message, context, request] = event;
        this.engine.emit('connection_error', { req: requestFromHandshake(request), code, message, context });
        return;
      }
    }
  }

  /** The arguments of an event or ack; bad attachments are treated like a malformed packet. */
  _args(client, event, attachments) {
    const args = event[4];
    if (event.length < 7) return args;
    try {
      return attachBinary(args, attachments.slice(event[5], event[5] + event[6]));
    } catch (err) {
      client._onerror(err);
      this._wire.closeConnection(client.id);
      return undefined;
    }
  }

  _newClient(conn) {
    const client = new Client(this, conn);
    this._clients.set(conn, client);
    return client;
  }

  _onconnect(client, name, sid, auth) {
    this._namespaceFor(name, auth || {}, (nsp) => {
      if (!nsp) {
        this._wire.reject(client.id, name, JSON.stringify({ message: 'Invalid namespace' }));
        return;
      }
      nsp._add(client, sid, auth || {});
    });
  }

  /** Finds the namespace `name`, creating it from a matching dynamic parent if there is one. */
  _namespaceFor(name, auth, done) {
    const existing = this._nsps.get(name);
    if (existing) return done(existing);
    const parents = [...this._parentNsps.entries()];
    const step = (i) => {
      if (i === parents.length) return done(undefined);
      const [matcher, parent] = parents[i];
      const onMatch = (err, allow) => {
        if (err || !allow) return step(i + 1);
        done(this._nsps.get(name) || this._createChild(parent, name));
      };
      if (matcher instanceof RegExp) onMatch(null, matcher.test(name));
      else matcher(name, auth, onMatch);
    };
    step(0);
  }
}

// As in socket.io, listening on the server is listening on the main namespace
// (`io.on('connection')`, `io.off(…)`, `io.listeners(…)`); `emit` broadcasts instead.
for (const method of Object.keys(EventEmitter.prototype)) {
  if (method === 'emit' || typeof EventEmitter.prototype[method] !== 'function') continue;
  Server.prototype[method] = function proxyToMainNamespace(...args) {
    return this.sockets[method](...args);
  };
}

module.exports = { Server, Engine };
