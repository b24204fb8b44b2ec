'use strict';

/**
 * A read view of one namespace's rooms, which Rust owns. Built on demand, so reading it costs a
 * crossing and a JSON parse: fine for inspection, not for hot paths.
 */
class Adapter {
  /** @param {import('./namespace').Namespace} nsp */
  constructor(nsp) {
    this.nsp = nsp;
  }

  /** @returns {Map<string, Set<string>>} room → socket ids */
  get rooms() {
    const raw = JSON.parse(this.nsp.server._native.rooms(this.nsp.name));
    return new Map(Object.entries(raw).map(([room, ids]) => [room, new Set(ids)]));
  }

  /** @returns {Map<string, Set<string>>} socket id → rooms */
  get sids() {
    const sids = new Map();
    for (const [room, ids] of this.rooms) {
      for (const id of ids) {
        if (!sids.has(id)) sids.set(id, new Set());
        sids.get(id).add(room);
      }
    }
    return sids;
  }

  /**
   * Ids of the sockets in any of `rooms` (every socket when there is none) and in none of
   * `except`, from a single read of the room table.
   * @param {Iterable<string>} rooms
   * @param {Iterable<string>} except
   * @returns {Set<string>}
   */
  selectIds(rooms, except) {
    const table = this.rooms;
    const excluded = new Set();
    for (const room of except) for (const id of table.get(room) || []) excluded.add(id);
    const wanted = [...rooms];
    const candidates = wanted.length ? wanted.flatMap((room) => [...(table.get(room) || [])]) : this.nsp.sockets.keys();
    const ids = new Set();
    for (const id of candidates) if (!excluded.has(id)) ids.add(id);
    return ids;
  }

  /**
   * The JSON of the flags a cluster adapter publishes a broadcast with; undefined keeps it on
   * this server (always, without a cluster).
   * @param {{ local?: boolean, volatile?: boolean, compress?: boolean, timeout?: number }} flags
   * @returns {string | undefined}
   */
  clusterFlags(flags) {
    return undefined;
  }

  /**
   * @typedef {{ rooms: Set<string>, except: Set<string>, flags?: { local?: boolean } }} SelectOpts
   */

  /** @param {SelectOpts} opts @returns {import('./socket').Socket[]} */
  _selectSockets(opts) {
    const ids = this.selectIds(opts.rooms, opts.except);
    return [...ids].map((id) => this.nsp.sockets.get(id)).filter(Boolean);
  }

  /** The selected sockets (this server's are the `Socket` objects themselves, as in socket.io). */
  async fetchSockets(opts) {
    return this._selectSockets(opts);
  }

  addSockets(opts, rooms) {
    for (const socket of this._selectSockets(opts)) socket.join([...rooms]);
  }

  delSockets(opts, rooms) {
    for (const socket of this._selectSockets(opts)) for (const room of rooms) socket.leave(room);
  }

  disconnectSockets(opts, close) {
    for (const socket of this._selectSockets(opts)) socket.disconnect(close);
  }

  /**
   * The other servers' part of a broadcast with acks (`packetArgs` is `[event, ...args]`): none
   * without a cluster.
   */
  broadcastWithAck(packetArgs, opts, onCount, onAck) {}

  /** How many servers share these namespaces: this one alone, until a cluster adapter is used. */
  serverCount() {
    return Promise.resolve(1);
  }

  /**
   * Sends `packet` (`[event, ...args]`, an ack callback last) to the other servers. With none, an
   * ack is answered at once with no responses, as a cluster adapter does when this node is alone.
   */
  serverSideEmit(packet) {
    const ack = typeof packet[packet.length - 1] === 'function' ? packet[packet.length - 1] : undefined;
    if (ack) process.nextTick(() => ack(null, []));
  }

  // socket.io 2 era calls that Egg apps still make (socket.io-adapter 1.x / socket.io-redis 5
  // shapes): node-style callbacks, called asynchronously. A cluster adapter answers cluster-wide.

  /** `(rooms?, cb)`: ids of the sockets in any of `rooms` (every socket without rooms). */
  clients(rooms, fn) {
    if (typeof rooms === 'function') {
      fn = rooms;
      rooms = [];
    }
    const ids = [...this.selectIds([].concat(rooms || []), [])];
    if (fn) process.nextTick(fn, null, ids);
  }

  /** `(id, cb)`: the rooms of socket `id`, or null when there is no such socket. */
  clientRooms(id, fn) {
    const rooms = this.socketRooms(id);
    if (fn) process.nextTick(fn, null, rooms ? [...rooms] : null);
  }

  /** `(cb)`: every room name of the namespace; without a callback, a Promise of their Set. */
  allRooms(fn) {
    const rooms = new Set(this.rooms.keys());
    if (typeof fn !== 'function') return Promise.resolve(rooms);
    process.nextTick(fn, null, [...rooms]);
  }

  /** `(id, close, cb)`: disconnects socket `id`; an error when no such socket is found. */
  remoteDisconnect(id, close, fn) {
    const socket = this.nsp.sockets.get(id);
    if (socket) socket.disconnect(close);
    const err = socket ? null : new Error(`socket ${id} not found`);
    if (fn) process.nextTick(fn, err);
  }

  socketRooms(id) {
    const rooms = this.nsp.server._native.socketRooms(this.nsp.name, id);
    return rooms.length ? new Set(rooms) : undefined;
  }
}

module.exports = { Adapter };
