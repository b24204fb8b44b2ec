'use strict';

const { EventEmitter } = require('events');
const { Socket } = require('./socket');
const { Adapter } = require('./adapter');
const { RedisAdapter } = require('./redis-adapter');
const { BroadcastOperator } = require('./broadcast-operator');
const { EggLayer } = require('./egg/layer');
const { assertNotReserved } = require('./reserved');
const { SessionStore, privateSessionId } = require('./recovery');
const { packetFlags } = require('./flags');

const emitReserved = EventEmitter.prototype.emit;

class Namespace extends EventEmitter {
  /**
   * @param {import('./server').Server} server
   * @param {string} name
   */
  constructor(server, name) {
    super();
    this.server = server;
    this.name = name;
    /** @type {Map<string, Socket>} */
    this.sockets = new Map();
    this.adapter = server._cluster ? new RedisAdapter(this, server._cluster) : new Adapter(this);
    this._fns = [];
    this._ids = 0;
    /** Sockets with `onAnyOutgoing` listeners, which broadcasts must notify. Usually empty. */
    this._outgoingWatchers = new Set();
    this._egg = new EggLayer(this);
    /** The dynamic namespace (`io.of(RegExp | fn)`) this one was created from, if any. */
    this._parent = undefined;
    const recovery = server.opts.connectionStateRecovery;
    /** Sessions of disconnected sockets, when connection state recovery is on. */
    this._sessions = recovery ? new SessionStore(recovery.maxDisconnectionDuration) : undefined;
  }

  /** Adds a middleware `(socket, next) => …`; async functions may also throw to refuse. */
  use(fn) {
    this._fns.push(fn);
    return this;
  }

  /** egg-style: handles `event` with `handler(ctx)`, after the packet middleware. */
  route(event, handler) {
    this._egg.route(event, handler);
    return this;
  }

  to(room) {
    return new BroadcastOperator(this).to(room);
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    return new BroadcastOperator(this).except(room);
  }

  emit(event, ...args) {
    return new BroadcastOperator(this).emit(event, ...args);
  }

  send(...args) {
    return this.emit('message', ...args);
  }

  write(...args) {
    return this.emit('message', ...args);
  }

  get volatile() {
    return new BroadcastOperator(this).volatile;
  }

  timeout(ms) {
    return new BroadcastOperator(this).timeout(ms);
  }

  get local() {
    return new BroadcastOperator(this).local;
  }

  compress(compress) {
    return new BroadcastOperator(this).compress(compress);
  }

  allSockets() {
    return new BroadcastOperator(this).allSockets();
  }

  fetchSockets() {
    return new BroadcastOperator(this).fetchSockets();
  }

  /** Emits `event` to the other servers of the cluster (an ack callback last gets their answers). */
  serverSideEmit(event, ...args) {
    assertNotReserved(event);
    this.adapter.serverSideEmit([event, ...args]);
    return true;
  }

  serverSideEmitWithAck(event, ...args) {
    return new Promise((resolve, reject) => {
      this.serverSideEmit(event, ...args, (err, responses) => (err ? reject(err) : resolve(responses)));
    });
  }

  /** An event another server sent with `serverSideEmit`: for this namespace's listeners. */
  _onServerSideEmit(args) {
    emitReserved.apply(this, args);
  }

  /**
   * This server's part of a broadcast with acks: sends the `encoded` packet (see binary.js's
   * `encodeArgs`) with one ack id, reports the number of recipients to `onCount`, each answer to
   * `onAck`. Answers still missing after `timeout` ms (when given) are forgotten.
   */
  _broadcastWithAckLocal(encoded, opts, timeout, onCount, onAck) {
    const id = this._ids++;
    const target = { rooms: [...opts.rooms], except: [...opts.except] };
    const sockets = [];
    const flags = packetFlags(opts.flags || {});
    for (const sid of this.server._wire.broadcastWithAck(this.name, target, encoded.data, encoded.attachments, id, flags)) {
      const socket = this.sockets.get(sid);
      if (!socket) continue;
      sockets.push(socket);
      socket.acks.set(id, onAck);
    }
    onCount(sockets.length);
    if (timeout !== undefined) setTimeout(() => sockets.forEach((socket) => socket.acks.delete(id)), timeout);
  }

  socketsJoin(room) {
    return new BroadcastOperator(this).socketsJoin(room);
  }

  socketsLeave(room) {
    return new BroadcastOperator(this).socketsLeave(room);
  }

  disconnectSockets(close = false) {
    return new BroadcastOperator(this).disconnectSockets(close);
  }

  /** A client asked to join: run the middleware, then admit or refuse. */
  _add(client, sid, auth) {
    const recovery = this.server.opts.connectionStateRecovery;
    const socket = (recovery && this._recover(client, auth)) || new Socket(this, client, sid, auth);
    if (recovery && !socket.recovered) socket.pid = privateSessionId();
    if (socket.recovered && recovery.skipMiddlewares) return this._admit(client, socket, undefined);
    const fns = [...this._egg.connectionMiddleware(), ...this._fns];
    runMiddleware(fns, socket, (err) => this._admit(client, socket, err));
  }

  /**
   * Connection state recovery: the socket a returning client had, with its id, rooms and data,
   * once the packets it missed are on their way (before the CONNECT reply, as in socket.io).
   * @returns {Socket | undefined}
   */
  _recover(client, auth) {
    const { pid, offset } = auth;
    if (typeof pid !== 'string' || typeof offset !== 'string') return undefined;
    const session = this._sessions.take(pid);
    if (!session) return undefined;
    if (!this.server._wire.replayMissed(client.id, this.name, offset, session.rooms)) return undefined;
    const socket = new Socket(this, client, session.sid, auth);
    socket.pid = session.pid;
    socket.data = session.data;
    socket.recovered = true;
    socket._pendingRooms = new Set(session.rooms);
    return socket;
  }

  _admit(client, socket, err) {
    if (client.closed || socket._refused) return;
    const wire = this.server._wire;
    if (err) {
      wire.reject(client.id, this.name, JSON.stringify(connectErrorPayload(client, err)));
      return;
    }
    if (!wire.accept(client.id, this.name, socket.id, socket.pid)) return;
    this.sockets.set(socket.id, socket);
    client._add(this.name, socket);
    socket._onconnect();
    this._egg.onConnection(socket);
    emitReserved.call(this, 'connect', socket);
    emitReserved.call(this, 'connection', socket);
  }

  _remove(socket) {
    this.sockets.delete(socket.id);
    this._outgoingWatchers.delete(socket);
    if (this._parent && this.sockets.size === 0 && this.server.opts.cleanupEmptyChildNamespaces) {
      this.server._removeChild(this);
    }
  }

  _dispatchEvent(socket, args) {
    if (this._egg.active) this._egg.dispatch(socket, args);
    else socket._emitLocal(args);
  }
}

/**
 * Runs `(socket, next)` middleware in order; the first error (passed to next, thrown, or
 * rejected) stops the chain.
 */
function runMiddleware(fns, socket, done) {
  let finished = false;
  const finish = (err) => {
    if (finished) return;
    finished = true;
    done(err);
  };
  const step = (i) => {
    if (i === fns.length) return finish();
    let called = false;
    const next = (err) => {
      if (called) return;
      called = true;
      if (err) finish(err);
      else step(i + 1);
    };
    try {
      const result = fns[i](socket, next);
      if (result && typeof result.then === 'function') result.then(undefined, (err) => next(toError(err)));
    } catch (err) {
      next(toError(err));
    }
  };
  step(0);
}

/** A socket.io-client 2.x (engine.io 3) client gets `err.data` or the message alone. */
function connectErrorPayload(client, err) {
  if (client.conn.protocol === 3) return err.data || err.message;
  const payload = { message: err.message };
  if (err.data !== undefined) payload.data = err.data;
  return payload;
}

function toError(err) {
  return err instanceof Error ? err : new Error(String(err));
}

module.exports = { Namespace };
