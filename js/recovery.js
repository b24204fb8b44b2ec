'use strict';

const { randomBytes } = require('crypto');

/** Disconnect reasons after which the client may come back and recover (socket.io 4.8's list). */
const RECOVERABLE_REASONS = new Set([
  'transport error',
  'transport close',
  'forced close',
  'ping timeout',
  'server shutting down',
  'forced server close',
]);

/**
 * @typedef {object} Session what a disconnected socket leaves for its return
 * @property {string} sid
 * @property {string} pid private session id, known only to the client
 * @property {string[]} rooms
 * @property {any} data `socket.data`
 * @property {number} disconnectedAt
 */

/**
 * The sessions of one namespace's disconnected sockets, for connection state recovery. The
 * packets they missed are kept in Rust, which appended the offsets clients report back.
 */
class SessionStore {
  /** @param {number} maxDisconnectionDuration ms */
  constructor(maxDisconnectionDuration) {
    this._window = maxDisconnectionDuration;
    /** @type {Map<string, Session>} in disconnection order, so expired ones are at the front */
    this._sessions = new Map();
  }

  /** @param {Omit<Session, 'disconnectedAt'>} session */
  persist(session) {
    this._expire();
    this._sessions.delete(session.pid);
    this._sessions.set(session.pid, { ...session, disconnectedAt: Date.now() });
  }

  /**
   * The session of private id `pid` if it has not expired; it is handed out once.
   * @returns {Session | undefined}
   */
  take(pid) {
    this._expire();
    const session = this._sessions.get(pid);
    if (session) this._sessions.delete(pid);
    return session;
  }

  _expire() {
    const threshold = Date.now() - this._window;
    for (const [pid, session] of this._sessions) {
      if (session.disconnectedAt >= threshold) break;
      this._sessions.delete(pid);
    }
  }
}

function privateSessionId() {
  return randomBytes(15).toString('base64url');
}

module.exports = { SessionStore, RECOVERABLE_REASONS, privateSessionId };
