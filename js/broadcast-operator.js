'use strict';

const { encodeArgs } = require('./binary');
const { assertNotReserved } = require('./reserved');
const { packetFlags } = require('./flags');

/**
 * An immutable description of a broadcast: which rooms, which rooms excepted, which flags.
 * Every chained call returns a new operator; `emit` crosses to Rust once.
 */
class BroadcastOperator {
  /**
   * @param {import('./namespace').Namespace} nsp
   * @param {Set<string>} [rooms]
   * @param {Set<string>} [exceptRooms]
   * @param {{ volatile?: boolean, compress?: boolean, local?: boolean }} [flags]
   */
  constructor(nsp, rooms = new Set(), exceptRooms = new Set(), flags = {}) {
    this.nsp = nsp;
    this.rooms = rooms;
    this.exceptRooms = exceptRooms;
    this.flags = flags;
  }

  to(room) {
    const rooms = new Set(this.rooms);
    for (const r of [].concat(room)) rooms.add(String(r));
    return new BroadcastOperator(this.nsp, rooms, this.exceptRooms, this.flags);
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    const exceptRooms = new Set(this.exceptRooms);
    for (const r of [].concat(room)) exceptRooms.add(String(r));
    return new BroadcastOperator(this.nsp, this.rooms, exceptRooms, this.flags);
  }

  compress(compress) {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, compress });
  }

  get volatile() {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, volatile: true });
  }

  get local() {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, local: true });
  }

  /** Acks of the next emit are awaited `ms` milliseconds, then reported with an error. */
  timeout(ms) {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, timeout: ms });
  }

  /**
   * Sends to every selected socket, encoded once. With a callback last, it is called with
   * `(err, responses)` once every recipient acked, or with an error when `timeout(ms)` passed.
   */
  emit(event, ...args) {
    assertNotReserved(event);
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
    const packet = [event, ...args];
    const { data, attachments } = encodeArgs(packet);
    // The parent of dynamic namespaces (`io.of(regex | fn)`) has no sockets of its own: like
    // socket.io's ParentNamespace, it broadcasts to every child namespace.
    const nsps = this.nsp._children ? [...this.nsp._children] : [this.nsp];
    for (const nsp of nsps) {
      if (!nsp._outgoingWatchers.size) continue;
      const selected = nsp.adapter.selectIds(this.rooms, this.exceptRooms);
      for (const socket of nsp._outgoingWatchers) {
        if (selected.has(socket.id)) socket._notifyOutgoing(packet);
      }
    }
    if (ack) {
      this._emitWithAck(nsps, packet, data, attachments, ack);
      return true;
    }
    for (const nsp of nsps) {
      nsp.server._wire.broadcast(
        nsp.name,
        [...this.rooms],
        [...this.exceptRooms],
        data,
        attachments,
        packetFlags(this.flags),
        nsp.adapter.clusterFlags(this.flags),
      );
    }
    return true;
  }

  /** Like `emit` with an ack, as a Promise of the responses (rejected on timeout). */
  emitWithAck(event, ...args) {
    return new Promise((resolve, reject) => {
      this.emit(event, ...args, (err, responses) => (err ? reject(err) : resolve(responses)));
    });
  }

  /**
   * As socket.io: one ack id per namespace, shared by its recipients; each answer is collected.
   * Done once every server reported how many clients it reached and they all answered.
   */
  _emitWithAck(nsps, packet, data, attachments, ack) {
    const responses = [];
    let expectedClients = 0;
    let reportedServers = 0;
    let expectedServers;
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ack.call(this, err, responses);
    };
    // Without timeout(ms) the delay is undefined, i.e. immediate, exactly as in socket.io.
    const timer = setTimeout(() => finish(new Error('operation has timed out')), this.flags.timeout);
    const check = () => {
      if (expectedServers === reportedServers && responses.length === expectedClients) finish(null);
    };
    const onCount = (count) => {
      expectedClients += count;
      reportedServers++;
      check();
    };
    const onAck = (response) => {
      responses.push(response);
      check();
    };
    const opts = this._opts();
    for (const nsp of nsps) {
      nsp.adapter.broadcastWithAck(packet, opts, onCount, onAck);
      nsp._broadcastWithAckLocal({ data, attachments }, opts, undefined, onCount, onAck);
    }
    // socket.io learns the number of servers asynchronously before it can complete.
    Promise.all(nsps.map((nsp) => nsp.adapter.serverCount())).then(
      (counts) => {
        expectedServers = counts.reduce((a, b) => a + b, 0);
        check();
      },
      (err) => finish(err),
    );
  }

  _opts() {
    return { rooms: this.rooms, except: this.exceptRooms, flags: this.flags };
  }

  /** The selected sockets; with a cluster adapter, those of every server. */
  fetchSockets() {
    return this.nsp.adapter.fetchSockets(this._opts());
  }

  async allSockets() {
    const sockets = await this.fetchSockets();
    return new Set(sockets.map((socket) => socket.id));
  }

  socketsJoin(room) {
    this.nsp.adapter.addSockets(this._opts(), [].concat(room).map(String));
  }

  socketsLeave(room) {
    this.nsp.adapter.delSockets(this._opts(), [].concat(room).map(String));
  }

  disconnectSockets(close = false) {
    this.nsp.adapter.disconnectSockets(this._opts(), close);
  }
}

module.exports = { BroadcastOperator };
