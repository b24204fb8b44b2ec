'use strict';

/**
 * Websockets over TLS (`https.Server`): Node holds the TLS session, so there is no plain
 * descriptor to hand to Rust. The decrypted bytes are relayed instead through a loopback
 * connection, whose accepted end is handed over like any plain socket. The relay costs a
 * loopback hop and a JS stream pipe per chunk; the engine behind it is the same.
 */

const net = require('net');

/** How long an accepted loopback connection may wait for its dialing side to be known. */
const UNMATCHED_TTL_MS = 2000;

class LoopbackPairs {
  constructor() {
    /** @type {Promise<net.Server> | undefined} */
    this._server = undefined;
    /** Accepted connections by their peer's port, until the dialing side claims them. */
    this._accepted = new Map();
    /** Dialing sides waiting for their accepted connection, by their local port. */
    this._claims = new Map();
  }

  /**
   * A connected pair of sockets: `[dialed, accepted]`. Only a connection this process dialed is
   * ever paired (by port), so another local process connecting to the loopback port gets
   * nothing.
   * @returns {Promise<[net.Socket, net.Socket]>}
   */
  async pair() {
    const server = await this._listening();
    const dialed = net.connect(server.address().port, '127.0.0.1');
    await new Promise((resolve, reject) => {
      dialed.once('connect', resolve);
      dialed.once('error', reject);
    });
    const accepted = await this._claim(dialed.localPort);
    return [dialed, accepted];
  }

  close() {
    if (this._server) this._server.then((server) => server.close(), () => {});
    for (const socket of this._accepted.values()) socket.destroy();
    this._accepted.clear();
  }

  _listening() {
    if (!this._server) {
      this._server = new Promise((resolve, reject) => {
        const server = net.createServer((socket) => this._onAccepted(socket));
        server.unref();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      });
    }
    return this._server;
  }

  _onAccepted(socket) {
    const port = socket.remotePort;
    const claim = this._claims.get(port);
    if (claim) {
      this._claims.delete(port);
      claim(socket);
      return;
    }
    this._accepted.set(port, socket);
    setTimeout(() => {
      if (this._accepted.get(port) === socket) {
        this._accepted.delete(port);
        socket.destroy();
      }
    }, UNMATCHED_TTL_MS).unref();
  }

  _claim(port) {
    const socket = this._accepted.get(port);
    if (socket) {
      this._accepted.delete(port);
      return Promise.resolve(socket);
    }
    return new Promise((resolve) => this._claims.set(port, resolve));
  }
}

/**
 * Hands a websocket upgrade that arrived over TLS to the engine through a loopback relay.
 * @param {LoopbackPairs} pairs
 * @param {(fd: number, secure: boolean) => void} handOver gives the accepted end's descriptor to Rust
 * @param {import('tls').TLSSocket} tlsSocket
 */
async function relayTls(pairs, handOver, tlsSocket) {
  let dialed;
  let accepted;
  try {
    [dialed, accepted] = await pairs.pair();
    handOver(accepted._handle.fd, true);
  } catch (err) {
    if (dialed) dialed.destroy();
    tlsSocket.destroy();
    return;
  } finally {
    if (accepted) accepted.destroy();
  }
  const closeBoth = () => {
    dialed.destroy();
    tlsSocket.destroy();
  };
  dialed.on('error', closeBoth).on('close', closeBoth);
  tlsSocket.on('error', closeBoth).on('close', closeBoth);
  tlsSocket.pipe(dialed);
  dialed.pipe(tlsSocket);
}

module.exports = { LoopbackPairs, relayTls };
