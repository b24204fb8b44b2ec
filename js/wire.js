'use strict';

/** Between two acks' texts in one `ackBatch`: JSON text never holds it unescaped. */
const ACK_SEPARATOR = '\x1e';

/**
 * Every write JS makes to clients goes through here, in the order JS made it. Acks made while
 * a batch of events is dispatched are gathered and handed to Rust in one call per namespace at
 * the end of the batch (a napi call with its strings costs more than the rest of an ack's JS);
 * any other write first hands over the acks gathered before it, so that a client receives what
 * its handlers sent in the order they sent it.
 */
class Wire {
  /** @param {import('./native/native').NativeServer} native */
  constructor(native) {
    this._native = native;
    /** True while `Server#_drain` dispatches a batch: only then are acks gathered. */
    this.dispatching = false;
    /** @type {Map<string, { pairs: number[], text: string }>} namespace name → its gathered acks */
    this._acks = new Map();
  }

  /** Hands the gathered acks to Rust (they go out with the batch's other writes). */
  flush() {
    if (this._acks.size === 0) return;
    const gathered = [...this._acks];
    this._acks.clear();
    for (const [nsp, { pairs, text }] of gathered) {
      this._native.ackBatch(nsp, new Float64Array(pairs), text);
    }
  }

  ack(conn, nsp, id, data, attachments) {
    if (!this.dispatching || attachments) {
      this.flush();
      return this._native.ack(conn, nsp, id, data, attachments);
    }
    const gathered = this._acks.get(nsp);
    if (gathered) {
      gathered.pairs.push(conn, id);
      gathered.text += ACK_SEPARATOR + data;
    } else {
      this._acks.set(nsp, { pairs: [conn, id], text: data });
    }
    return true;
  }

  emit(conn, nsp, ackId, data, attachments, flags) {
    this.flush();
    return this._native.emit(conn, nsp, ackId, data, attachments, flags);
  }

  broadcast(nsp, rooms, except, data, attachments, flags, clusterFlags) {
    this.flush();
    return this._native.broadcast(nsp, rooms, except, data, attachments, flags, clusterFlags);
  }

  broadcastWithAck(nsp, target, data, attachments, id, flags) {
    this.flush();
    return this._native.broadcastWithAck(nsp, target, data, attachments, id, flags);
  }

  accept(conn, nsp, sid, pid) {
    this.flush();
    return this._native.accept(conn, nsp, sid, pid);
  }

  reject(conn, nsp, payload) {
    this.flush();
    return this._native.reject(conn, nsp, payload);
  }

  replayMissed(conn, nsp, offset, rooms) {
    this.flush();
    return this._native.replayMissed(conn, nsp, offset, rooms);
  }

  disconnectSocket(conn, nsp) {
    this.flush();
    return this._native.disconnectSocket(conn, nsp);
  }

  removeSocket(nsp, sid) {
    this.flush();
    return this._native.removeSocket(nsp, sid);
  }

  closeConnection(conn) {
    this.flush();
    return this._native.closeConnection(conn);
  }
}

module.exports = { Wire };
