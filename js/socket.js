'use strict';

const { EventEmitter } = require('events');
const { encodeArgs } = require('./binary');
const { assertNotReserved } = require('./reserved');
const { BroadcastOperator } = require('./broadcast-operator');
const { RECOVERABLE_REASONS } = require('./recovery');
const { packetFlags } = require('./flags');

const emitReserved = EventEmitter.prototype.emit;

/** Shared by every socket with no pending flag; a flag setter replaces it with its own object. */
const NO_FLAGS = Object.freeze({});

/**
 * A client's connection to one namespace. A plain, extensible object: integrations assign
 * their own fields onto it. Rust holds the wire state; this holds listeners and acks.
 */
class Socket extends EventEmitter {
  /**
   * @param {import('./namespace').Namespace} nsp
   * @param {import('./client').Client} client
   * @param {string} id
   * @param {object} auth
   */
  constructor(nsp, client, id, auth) {
    super();
    this.nsp = nsp;
    this.server = nsp.server;
    this.client = client;
    this.id = id;
    this.data = {};
    this.connected = false;
    this.recovered = false;
    /** Private session id for connection state recovery (only the client knows it too). */
    this.pid = undefined;
    /** @type {Map<number, Function> | undefined} created by the first emit that expects an ack */
    this._acks = undefined;
    this.flags = NO_FLAGS;
    this._auth = auth;
    this._handshake = undefined;
    /** Set when a middleware refused the socket by disconnecting it before it was admitted. */
    this._refused = false;
    /**
     * Rooms joined by middleware before the socket is admitted: Rust only knows the socket from
     * `accept` on, so they are joined then (egg-style connection middleware joins rooms early).
     * `undefined` until a room is joined, `null` once admitted.
     * @type {Set<string> | null | undefined}
     */
    this._pendingRooms = undefined;
  }

  get conn() {
    return this.client.conn;
  }

  get adapter() {
    return this.nsp.adapter;
  }

  get handshake() {
    if (!this._handshake) this._handshake = this.client.handshake(this._auth);
    return this._handshake;
  }

  get request() {
    return this.client.request;
  }

  get disconnected() {
    return !this.connected;
  }

  get acks() {
    if (!this._acks) this._acks = new Map();
    return this._acks;
  }

  get rooms() {
    if (this._pendingRooms !== null) return new Set(this._pendingRooms);
    return new Set(this.server._native.socketRooms(this.nsp.name, this.id));
  }

  emit(event, ...args) {
    assertNotReserved(event);
    const flags = this.flags;
    this.flags = NO_FLAGS;
    let ackId = -1;
    if (typeof args[args.length - 1] === 'function') {
      ackId = this.nsp._ids++;
      this._registerAck(ackId, args.pop(), flags.timeout);
    }
    const packet = [event, ...args];
    this._notifyOutgoing(packet);
    const { data, attachments } = encodeArgs(packet);
    const wire = this.server._wire;
    if (ackId === -1 && this.nsp._sessions) {
      // As a broadcast to its own room, the packet is kept (with an offset) for recovery.
      wire.broadcast(this.nsp.name, [this.id], [], data, attachments, packetFlags(flags));
    } else {
      wire.emit(this.client.id, this.nsp.name, ackId, data, attachments, packetFlags(flags));
    }
    return true;
  }

  /**
   * Packet middleware `([event, ...args], next) => …`, run for each event from the client; an
   * error passed to `next` becomes the socket's `error` event and the event is dropped.
   */
  use(fn) {
    if (!this._fns) this._fns = [];
    this._fns.push(fn);
    return this;
  }

  /** Called with `(event, ...args)` for every event from the client, before the middleware. */
  onAny(listener) {
    this._anyListeners = addListener(this._anyListeners, listener, false);
    return this;
  }

  prependAny(listener) {
    this._anyListeners = addListener(this._anyListeners, listener, true);
    return this;
  }

  offAny(listener) {
    this._anyListeners = removeListener(this._anyListeners, listener);
    return this;
  }

  listenersAny() {
    return this._anyListeners || [];
  }

  /** Called with `(event, ...args)` for every event sent to this client (not for acks). */
  onAnyOutgoing(listener) {
    this._anyOutgoingListeners = addListener(this._anyOutgoingListeners, listener, false);
    this.nsp._outgoingWatchers.add(this);
    return this;
  }

  prependAnyOutgoing(listener) {
    this._anyOutgoingListeners = addListener(this._anyOutgoingListeners, listener, true);
    this.nsp._outgoingWatchers.add(this);
    return this;
  }

  offAnyOutgoing(listener) {
    this._anyOutgoingListeners = removeListener(this._anyOutgoingListeners, listener);
    if (!this._anyOutgoingListeners.length) this.nsp._outgoingWatchers.delete(this);
    return this;
  }

  listenersAnyOutgoing() {
    return this._anyOutgoingListeners || [];
  }

  /** @param {unknown[]} packet `[event, ...args]` */
  _notifyOutgoing(packet) {
    const listeners = this._anyOutgoingListeners;
    if (!listeners || !listeners.length) return;
    for (const listener of listeners.slice()) listener.apply(this, packet);
  }

  /**
   * Like `emit` with an ack, as a Promise (socket.io 4.6+). With `timeout(ms)` it rejects when
   * the client does not answer in time.
   */
  emitWithAck(event, ...args) {
    const withErr = this.flags.timeout !== undefined;
    return new Promise((resolve, reject) => {
      args.push((arg1, arg2) => {
        if (!withErr) return resolve(arg1);
        return arg1 ? reject(arg1) : resolve(arg2);
      });
      this.emit(event, ...args);
    });
  }

  /** The next emit's ack gets `(err, ...args)`, err once `ms` passed without an answer. */
  timeout(ms) {
    return this._flag('timeout', ms);
  }

  _flag(name, value) {
    if (this.flags === NO_FLAGS) this.flags = {};
    this.flags[name] = value;
    return this;
  }

  /** As socket.io's registerAckCallback: a timed ack is called with an Error or `(null, ...)`. */
  _registerAck(id, ack, timeout) {
    if (timeout === undefined) {
      this.acks.set(id, ack);
      return;
    }
    const timer = setTimeout(() => {
      this.acks.delete(id);
      ack.call(this, new Error('operation has timed out'));
    }, timeout);
    this.acks.set(id, (...args) => {
      clearTimeout(timer);
      ack.apply(this, [null, ...args]);
    });
  }

  send(...args) {
    return this.emit('message', ...args);
  }

  write(...args) {
    return this.emit('message', ...args);
  }

  _operator() {
    const flags = this.flags;
    this.flags = NO_FLAGS;
    return new BroadcastOperator(this.nsp, new Set(), new Set([this.id]), flags);
  }

  to(room) {
    return this._operator().to(room);
  }

  in(room) {
    return this._operator().in(room);
  }

  except(room) {
    return this._operator().except(room);
  }

  get broadcast() {
    return this._operator();
  }

  get volatile() {
    return this._flag('volatile', true);
  }

  get local() {
    return this._flag('local', true);
  }

  compress(compress) {
    return this._flag('compress', compress);
  }

  /** @param {string | string[]} rooms */
  join(rooms) {
    if (this._pendingRooms !== null) {
      if (!this._pendingRooms) this._pendingRooms = new Set();
      for (const room of [].concat(rooms)) this._pendingRooms.add(String(room));
      return;
    }
    this.server._native.join(this.nsp.name, this.id, [].concat(rooms).map(String));
  }

  /** @param {string} room */
  leave(room) {
    if (this._pendingRooms !== null) {
      if (this._pendingRooms) this._pendingRooms.delete(String(room));
      return;
    }
    this.server._native.leave(this.nsp.name, this.id, String(room));
  }

  /**
   * @param {boolean} [close] also close the underlying connection (and every socket on it)
   */
  disconnect(close = false) {
    if (!this.connected) {
      if (!this._refused) {
        this._refused = true;
        this.server._wire.disconnectSocket(this.client.id, this.nsp.name);
        if (close) this.server._wire.closeConnection(this.client.id);
      }
      return this;
    }
    if (close) {
      this.client.disconnectAll();
    } else {
      this._onclose('server namespace disconnect', true);
    }
    return this;
  }

  /** A client event; `ackId` is set when the client expects an answer. */
  _onevent(args, ackId) {
    if (ackId !== undefined) args.push(this._ackCallback(ackId));
    if (this._anyListeners && this._anyListeners.length) {
      for (const listener of this._anyListeners.slice()) listener.apply(this, args);
    }
    if (!this._fns || !this._fns.length) {
      this.nsp._dispatchEvent(this, args);
      return;
    }
    runPacketMiddleware(this._fns.slice(), args, (err) => {
      // As socket.io: the outcome is applied on the next tick.
      process.nextTick(() => {
        if (err) this._onerror(err);
        else if (this.connected) this.nsp._dispatchEvent(this, args);
      });
    });
  }

  /**
   * An error to report on this socket (a rejected packet, bad input): its `error` listeners hear
   * it. Unlike socket.io, a socket with no `error` listener does not crash the process.
   */
  _onerror(err) {
    if (this.listenerCount('error') > 0) emitReserved.call(this, 'error', err);
  }

  _emitLocal(args) {
    emitReserved.apply(this, args);
  }

  _ackCallback(id) {
    let sent = false;
    return (...args) => {
      if (sent) return;
      sent = true;
      const { data, attachments } = encodeArgs(args);
      this.server._wire.ack(this.client.id, this.nsp.name, id, data, attachments);
    };
  }

  _onack(id, args) {
    const ack = this._acks && this._acks.get(id);
    if (typeof ack !== 'function') return;
    this._acks.delete(id);
    ack.apply(this, args);
  }

  _onconnect() {
    this.connected = true;
    const pending = this._pendingRooms;
    this._pendingRooms = null;
    if (pending && pending.size) this.server._native.join(this.nsp.name, this.id, [...pending]);
  }

  /**
   * @param {string} reason
   * @param {boolean} [notifyClient] send DISCONNECT to the client (server-side disconnect)
   */
  _onclose(reason, notifyClient = false) {
    if (!this.connected) return;
    // socket.io passes the transport's account of an error as a second argument; the listeners
    // get the same arity here, with nothing to tell.
    const description = undefined;
    emitReserved.call(this, 'disconnecting', reason, description);
    if (this.nsp._sessions && RECOVERABLE_REASONS.has(reason)) {
      this.nsp._sessions.persist({ sid: this.id, pid: this.pid, rooms: [...this.rooms], data: this.data });
    }
    const wire = this.server._wire;
    if (notifyClient) wire.disconnectSocket(this.client.id, this.nsp.name);
    else wire.removeSocket(this.nsp.name, this.id);
    this.nsp._remove(this);
    this.client._remove(this);
    this.connected = false;
    emitReserved.call(this, 'disconnect', reason, description);
  }
}

function addListener(listeners, listener, first) {
  const next = listeners ? listeners.slice() : [];
  if (first) next.unshift(listener);
  else next.push(listener);
  return next;
}

/** Without a listener, removes them all (as socket.io's offAny). */
function removeListener(listeners, listener) {
  if (!listeners || !listener) return [];
  const i = listeners.indexOf(listener);
  return i < 0 ? listeners : listeners.filter((_, j) => j !== i);
}

/** Runs `([event, ...args], next)` middleware in order; the first error stops the chain. */
function runPacketMiddleware(fns, packet, done) {
  const step = (i) => {
    if (i === fns.length) return done();
    fns[i](packet, (err) => (err ? done(err) : step(i + 1)));
  };
  step(0);
}

module.exports = { Socket };
