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

  socketRooms(id) {
    const rooms = this.nsp.server._native.socketRooms(this.nsp.name, id);
    return rooms.length ? new Set(rooms) : undefined;
  }
}

module.exports = { Adapter };
