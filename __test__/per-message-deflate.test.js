'use strict';

// perMessageDeflate: negotiation in the 101, compressed frames on the wire (RSV1) from the
// threshold on, compress(false), compressed client messages, and real socket.io-clients (whose
// `ws` offers the extension) over websocket and upgrade, on our own port and attached.

const net = require('net');
const zlib = require('zlib');
const crypto = require('crypto');
const { TRANSPORTS, startServer, startAttached, client, once, until, settled } = require('./helpers');
const { clientTextFrame } = require('./raw');

const servers = [];
const sockets = [];
afterEach(() => {
  for (const s of sockets.splice(0)) (s.disconnect || s.destroy).call(s);
  for (const { io, httpServer } of servers.splice(0)) {
    io.close();
    if (httpServer) httpServer.close();
  }
});

async function start(mode, opts) {
  const server = mode === 'attached' ? await startAttached(opts) : startServer(opts);
  servers.push(server);
  return server;
}

/**
 * A bare websocket client that offers `extensions` and hands out the server's frames as
 * `{ rsv1, opcode, payload }`, compressed payloads left as they came.
 */
function rawClient(port, extensions) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    const offer = extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : '';
    socket.once('connect', () => {
      socket.write(
        'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n` +
          `Sec-WebSocket-Version: 13\r\n${offer}\r\n`,
      );
    });
    let buf = Buffer.alloc(0);
    let head;
    const frames = [];
    const waiting = [];
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (head === undefined) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = buf.subarray(0, end).toString('latin1');
        buf = buf.subarray(end + 4);
        resolve({ head, next, send: (text) => socket.write(clientTextFrame(text)), socket });
      }
      for (;;) {
        if (buf.length < 2) break;
        let len = buf[1] & 0x7f;
        let offset = 2;
        if (len === 126) {
          if (buf.length < 4) break;
          len = buf.readUInt16BE(2);
          offset = 4;
        } else if (len === 127) {
          if (buf.length < 10) break;
          len = Number(buf.readBigUInt64BE(2));
          offset = 10;
        }
        if (buf.length < offset + len) break;
        frames.push({ rsv1: (buf[0] & 0x40) !== 0, opcode: buf[0] & 0x0f, payload: buf.subarray(offset, offset + len) });
        buf = buf.subarray(offset + len);
      }
      while (frames.length && waiting.length) waiting.shift()(frames.shift());
    });
    socket.on('error', reject);
    function next() {
      return new Promise((r) => {
        if (frames.length) r(frames.shift());
        else waiting.push(r);
      });
    }
  });
}

const inflate = (payload) =>
  zlib
    .inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
    .toString();

/** A masked, compressed client text frame (RSV1), as a browser sends one. */
function compressedClientFrame(text) {
  const deflated = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const payload = deflated.subarray(0, deflated.length - 4);
  if (payload.length > 125) throw new Error('short frames only');
  const mask = crypto.randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x81 | 0x40, 0x80 | payload.length]), mask, masked]);
}

describe.each(['own listener', 'attached'])('perMessageDeflate over %s', (mode) => {
  test('the 101 accepts the offer; large messages are compressed on the wire, small ones and compress(false) not', async () => {
    const { io, port } = await start(mode, { perMessageDeflate: true });
    const connected = once(io, 'connection');
    const ws = await rawClient(port, 'permessage-deflate; client_max_window_bits');
    expect(ws.head).toMatch(/^HTTP\/1.1 101/);
    expect(ws.head).toMatch(/\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover(\r\n|$)/i);
    const open = await ws.next();
    expect(open.rsv1).toBe(false);
    ws.send('40');
    expect((await ws.next()).payload.toString()).toMatch(/^40\{"sid"/);
    const socket = await connected;
    const big = 'y'.repeat(2000);
    socket.emit('big', big);
    socket.emit('small', 'x');
    socket.compress(false).emit('plain', big);
    io.emit('broadcast', big);

    const first = await ws.next();
    expect(first.rsv1).toBe(true);
    expect(first.payload.length).toBeLessThan(200);
    expect(inflate(first.payload)).toBe(`42["big","${big}"]`);
    const small = await ws.next();
    expect(small.rsv1).toBe(false);
    expect(small.payload.toString()).toBe('42["small","x"]');
    const plain = await ws.next();
    expect(plain.rsv1).toBe(false);
    expect(plain.payload.toString()).toBe(`42["plain","${big}"]`);
    const broadcast = await ws.next();
    expect(broadcast.rsv1).toBe(true);
    expect(inflate(broadcast.payload)).toBe(`42["broadcast","${big}"]`);

    // A compressed message from the client is inflated.
    const got = once(socket, 'from-client');
    ws.socket.write(compressedClientFrame(`42["from-client","${'z'.repeat(300)}"]`));
    expect(await got).toBe('z'.repeat(300));
  });

  test('without the option, the offer is declined and nothing is compressed', async () => {
    const { port } = await start(mode, {});
    const ws = await rawClient(port, 'permessage-deflate; client_max_window_bits');
    expect(ws.head).toMatch(/^HTTP\/1.1 101/);
    expect(ws.head).not.toMatch(/Sec-WebSocket-Extensions/i);
    await ws.next();
    // RSV1 without the extension is a protocol error: the connection is closed.
    const closed = new Promise((resolve) => ws.socket.once('close', resolve));
    ws.socket.write(compressedClientFrame('40'));
    await closed;
  });

  test('an offer we cannot serve is declined, the websocket still opens', async () => {
    const { port } = await start(mode, { perMessageDeflate: true });
    const ws = await rawClient(port, 'permessage-deflate; server_max_window_bits=10');
    expect(ws.head).toMatch(/^HTTP\/1.1 101/);
    expect(ws.head).not.toMatch(/Sec-WebSocket-Extensions/i);
  });
});

describe.each(['websocket', 'upgrade'])('socket.io-client with perMessageDeflate over %s', (transport) => {
  test('large and small messages both ways, binary and broadcasts, threshold option', async () => {
    const { io, url } = await start('own listener', { perMessageDeflate: { threshold: 100 } });
    expect(io.opts.perMessageDeflate).toEqual({ threshold: 100 });
    const serverSide = once(io, 'connection');
    const c = client(url, TRANSPORTS[transport]);
    sockets.push(c);
    await once(c, 'connect');
    await settled(c, transport);
    const socket = await serverSide;
    const big = 'payload '.repeat(500);
    socket.on('echo', (value, ack) => ack(value));
    expect(await c.emitWithAck('echo', big)).toBe(big);
    expect(await c.emitWithAck('echo', 'tiny')).toBe('tiny');
    const bytes = Buffer.alloc(5000, 7);
    const binary = once(c, 'bytes');
    socket.emit('bytes', bytes, big);
    const [gotBytes, gotText] = await binary;
    expect(Buffer.from(gotBytes).equals(bytes)).toBe(true);
    expect(gotText).toBe(big);
    const all = [];
    c.on('all', (v) => all.push(v));
    io.emit('all', big);
    io.compress(false).emit('all', big);
    await until(() => all.length === 2);
    expect(all).toEqual([big, big]);
  });
});

test('a compressed client message that inflates past maxHttpBufferSize closes the connection', async () => {
  const { io, port } = await start('own listener', { perMessageDeflate: true, maxHttpBufferSize: 1000 });
  const connected = once(io, 'connection');
  const ws = await rawClient(port, 'permessage-deflate');
  await ws.next();
  ws.send('40');
  await ws.next();
  const socket = await connected;
  const reason = once(socket, 'disconnect');
  ws.socket.write(compressedClientFrame(`42["bomb","${'a'.repeat(5000)}"]`));
  expect((await reason)[0]).toBe('transport error');
});

test('the option is checked', () => {
  const { Server } = require('..');
  expect(() => new Server({ perMessageDeflate: { threshold: -1 } })).toThrow(/perMessageDeflate\.threshold/);
});
