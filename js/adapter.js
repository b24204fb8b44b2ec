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

  socketRooms(id) {
    const rooms = this.nsp.server._native.socketRooms(this.nsp.name, id);
    return rooms.length ? new Set(rooms) : undefined;
  }
}

module.exports = { Adapter };
