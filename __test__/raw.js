'use strict';

// Raw engine.io / socket.io clients for wire-level tests: plain HTTP requests, `ws` websockets
// and a bare TCP websocket that can stop reading. Everything talks to 127.0.0.1 only.

const http = require('http');
const net = require('net');
const crypto = require('crypto');
const WebSocket = require('ws');

const SEP = '\x1e';

/** One HTTP request; resolves with status, headers and the body as text. */
function request(port, path, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method, headers, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** A polling handshake; resolves with the parsed open packet (and the raw text). */
async function pollingHandshake(port, { path = '/socket.io/', query = '' } = {}) {
  const res = await request(port, `${path}?EIO=4&transport=polling${query}`);
  if (res.status !== 200 || res.body[0] !== '0') {
    throw new Error(`handshake failed: ${res.status} ${res.body}`);
  }
  return { open: JSON.parse(res.body.slice(1)), text: res.body };
}

/** A polling session: GET/POST with its sid. */
class Polling {
  constructor(port, sid, path = '/socket.io/') {
    this.port = port;
    this.sid = sid;
    this.path = path;
  }

  static async open(port, opts) {
    const { open } = await pollingHandshake(port, opts);
    return new Polling(port, open.sid, opts && opts.path);
  }

  url() {
    return `${this.path}?EIO=4&transport=polling&sid=${encodeURIComponent(this.sid)}`;
  }

  get() {
    return request(this.port, this.url());
  }

  post(body) {
    return request(this.port, this.url(), { method: 'POST', body });
  }

  /** The packets of the next GET, split on the record separator. */
  async packets() {
    const res = await this.get();
    if (res.status !== 200) throw new Error(`poll failed: ${res.status} ${res.body}`);
    return res.body.split(SEP);
  }

  /** Polls until a packet other than a ping shows up (answering pings); returns the packets. */
  async next() {
    for (;;) {
      const packets = (await this.packets()).filter((p) => {
        if (p === '2') {
          this.post('3');
          return false;
        }
        return true;
      });
      if (packets.length) return packets;
    }
  }

  /** Joins the main namespace; resolves with the CONNECT reply. */
  async connect(nsp = '', auth) {
    await this.post(`40${nsp}${auth === undefined ? '' : JSON.stringify(auth)}`);
    return (await this.next())[0];
  }
}

/**
 * A websocket that buffers what it receives: `next()` resolves with the next message (a string
 * for text, a Buffer for binary), `closed` resolves with the close code once closed.
 */
class Ws {
  constructor(url) {
    this.ws = new WebSocket(url);
    this.messages = [];
    this.waiters = [];
    this.isClosed = false;
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
    });
    this.opened.catch(() => {});
    this.ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code) => {
        this.isClosed = true;
        resolve(code);
        for (const w of this.waiters.splice(0)) w.reject(new Error('websocket closed'));
      });
    });
    this.ws.on('message', (data, isBinary) => {
      const message = isBinary ? Buffer.from(data) : data.toString();
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(message);
      else this.messages.push(message);
    });
  }

  static async open(port, query = '', path = '/socket.io/') {
    const ws = new Ws(`ws://127.0.0.1:${port}${path}?EIO=4&transport=websocket${query}`);
    await ws.opened;
    return ws;
  }

  next(timeoutMs = 5000) {
    if (this.messages.length) return Promise.resolve(this.messages.shift());
    if (this.isClosed) return Promise.reject(new Error('websocket closed'));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error('timed out waiting for a websocket message'));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next message that is not a ping (pings are answered). */
  async nextPacket(timeoutMs) {
    for (;;) {
      const m = await this.next(timeoutMs);
      if (m === '2') {
        this.send('3');
        continue;
      }
      return m;
    }
  }

  send(data) {
    this.ws.send(data);
  }

  /** Resolves with the close code, or rejects if the socket is still open after `timeoutMs`. */
  waitClosed(timeoutMs = 5000) {
    let timer;
    return Promise.race([
      this.closed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('websocket still open')), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  close() {
    if (!this.isClosed) this.ws.terminate();
  }
}

/** A websocket session that has joined `/`: resolves with { ws, open, sid }. */
async function wsConnected(port, query = '') {
  const ws = await Ws.open(port, query);
  const open = JSON.parse((await ws.next()).slice(1));
  ws.send('40');
  const reply = await ws.nextPacket();
  return { ws, open, sid: JSON.parse(reply.slice(2)).sid };
}

/**
 * A websocket opened over a bare TCP socket that never reads after the handshake response, so
 * the server's writes back up. Resolves with the net.Socket (paused).
 */
function stalledWebsocket(port, query = '') {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const key = crypto.randomBytes(16).toString('base64');
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write(
        `GET /socket.io/?EIO=4&transport=websocket${query} HTTP/1.1\r\n` +
          'Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.pause();
      if (!head.toString('latin1').startsWith('HTTP/1.1 101')) return reject(new Error(head.toString('latin1')));
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** A masked client websocket text frame (for writing over a bare socket). */
/** Sends a websocket upgrade request; resolves with the response head (status line and headers). */
function rawUpgrade(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const extra = Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('');
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      );
    });
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end >= 0) {
        socket.destroy();
        resolve(data.slice(0, end + 2));
      }
    });
    socket.on('error', reject);
  });
}

function clientTextFrame(text) {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('short frames only');
  const mask = crypto.randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/**
 * Servers and raw websockets that the calling test file starts, closed after each test.
 * @returns {{ start(opts?: object): { io: any, port: number }, track(ws: any): any }}
 */
function rawTestScope() {
  const { Server } = require('..');
  const servers = [];
  const sockets = [];
  afterEach(() => {
    for (const ws of sockets.splice(0)) ws.close();
    for (const io of servers.splice(0)) io.close();
  });
  return {
    start(opts) {
      const io = new Server(0, opts);
      servers.push(io);
      return { io, port: io.port };
    },
    track(ws) {
      sockets.push(ws);
      return ws;
    },
  };
}

module.exports = { SEP, request, pollingHandshake, Polling, Ws, wsConnected, stalledWebsocket, rawUpgrade, clientTextFrame, rawTestScope };
