'use strict';

const http = require('http');
const { EventEmitter } = require('events');

/**
 * One client connection (an engine.io session), shared by the sockets it opens in several
 * namespaces. Handshake data is fetched from Rust only when someone reads it.
 */
class Client {
  /**
   * @param {import('./server').Server} server
   * @param {number} id connection key in Rust
   */
  constructor(server, id) {
    this.server = server;
    this.id = id;
    /** @type {Map<string, import('./socket').Socket>} */
    this.sockets = new Map();
    this.closed = false;
    this._conn = undefined;
    this._raw = undefined;
    this._request = undefined;
  }

  /** `socket.conn`, made when first asked for. */
  get conn() {
    if (!this._conn) this._conn = new Connection(this);
    return this._conn;
  }

  _rawHandshake() {
    if (!this._raw) {
      const text = this.server._native.handshake(this.id);
      this._raw = text ? JSON.parse(text) : { headers: {}, query: {}, address: '', secure: false, issued: Date.now(), url: '' };
    }
    return this._raw;
  }

  /** The `socket.handshake` object of a socket of this client. */
  handshake(auth) {
    const raw = this._rawHandshake();
    return {
      headers: raw.headers,
      time: new Date(raw.issued).toString(),
      address: raw.address,
      xdomain: Boolean(raw.headers.origin),
      secure: raw.secure,
      issued: raw.issued,
      url: raw.url,
      query: raw.query,
      auth,
    };
  }

  /** An IncomingMessage built from the handshake request (Egg builds its Koa context from it). */
  get request() {
    if (!this._request) this._request = requestFromHandshake(this._rawHandshake());
    return this._request;
  }

  _add(nsp, socket) {
    this.sockets.set(nsp, socket);
  }

  _remove(socket) {
    if (this.sockets.get(socket.nsp.name) === socket) this.sockets.delete(socket.nsp.name);
  }

  /** Server-side `socket.disconnect(true)`: every socket of this client, then the connection. */
  disconnectAll() {
    for (const socket of [...this.sockets.values()]) socket._onclose('server namespace disconnect', true);
    this.server._wire.closeConnection(this.id);
  }

  /** Bad input from the client: each of its sockets hears `error`, as in socket.io. */
  _onerror(err) {
    for (const socket of this.sockets.values()) socket._onerror(err);
  }

  _onclose(reason) {
    this.closed = true;
    for (const socket of [...this.sockets.values()]) socket._onclose(reason);
    if (this._conn) this._conn.emit('close', reason);
  }
}

/**
 * Rebuilds the handshake request as an `http.IncomingMessage` (headers, url, method, socket
 * address), which is what Egg, Koa and `generateId(req)` expect to read.
 * @param {{ headers: Record<string, string>, url: string, address: string, secure: boolean, query: object, method?: string }} raw
 */
function requestFromHandshake(raw) {
  const socket = { remoteAddress: raw.address, encrypted: raw.secure };
  const req = new http.IncomingMessage(socket);
  req.method = raw.method || 'GET';
  req.url = raw.url;
  req.headers = raw.headers;
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.complete = true;
  req._query = raw.query;
  return req;
}

/**
 * `socket.conn` and what `io.engine` emits on `connection`: the engine.io connection, as far as
 * users look at it. Emits `upgrade` and `close` (reason).
 */
class Connection extends EventEmitter {
  constructor(client) {
    super();
    this._client = client;
    this._id = undefined;
    this._protocol = undefined;
  }

  /** The engine.io session id. */
  get id() {
    if (this._id === undefined) this._id = this._client.server._native.engineId(this._client.id) || '';
    return this._id;
  }

  /** `{ name, writable }` of the current transport, read from Rust when asked. */
  get transport() {
    const native = this._client.server._native;
    const id = this._client.id;
    return {
      name: native.transport(id) || 'polling',
      get writable() {
        return native.writable(id);
      },
    };
  }

  /** The engine.io protocol revision: 3 for socket.io-client 2.x (`allowEIO3`), else 4. */
  get protocol() {
    if (this._protocol === undefined) this._protocol = this._client.server._native.protocol(this._client.id) || 4;
    return this._protocol;
  }

  get readyState() {
    return this._client.closed ? 'closed' : 'open';
  }

  get remoteAddress() {
    return this._client._rawHandshake().address;
  }

  get request() {
    return this._client.request;
  }

  close() {
    this._client.server._wire.closeConnection(this._client.id);
  }
}

module.exports = { Client, requestFromHandshake };
