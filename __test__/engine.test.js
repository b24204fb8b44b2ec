'use strict';

// engine.io v4 on the wire: real HTTP requests and real websockets against our server, with
// the exact values engine.io 6 (socket.io 4.8) produces.

const net = require('net');
const { once, until, sleep } = require('./helpers');
const { SEP, request, pollingHandshake, Polling, Ws, wsConnected, stalledWebsocket, clientTextFrame, rawTestScope } = require('./raw');

const { start, track } = rawTestScope();

const OPEN_KEYS = ['sid', 'upgrades', 'pingInterval', 'pingTimeout', 'maxPayload'];
const CUSTOM = { pingInterval: 12345, pingTimeout: 6789, maxHttpBufferSize: 4321 };

/** Resolves with the server-side socket of the next connection. */
function nextConnection(io) {
  return once(io, 'connection');
}

describe('handshake', () => {
  test('over polling: exactly sid, upgrades ["websocket"], pingInterval, pingTimeout, maxPayload', async () => {
    const { port } = start(CUSTOM);
    const res = await request(port, '/socket.io/?EIO=4&transport=polling');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=UTF-8');
    expect(res.body[0]).toBe('0');
    const open = JSON.parse(res.body.slice(1));
    expect(Object.keys(open)).toEqual(OPEN_KEYS);
    expect(open).toEqual({ sid: expect.stringMatching(/^[\w-]{20}$/), upgrades: ['websocket'], pingInterval: 12345, pingTimeout: 6789, maxPayload: 4321 });
  });

  test('default values are socket.io 4.8 defaults', async () => {
    const { port } = start();
    const { open } = await pollingHandshake(port);
    expect(open).toEqual({ sid: open.sid, upgrades: ['websocket'], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1000000 });
  });

  test('over websocket: upgrades []', async () => {
    const { port } = start(CUSTOM);
    const ws = track(await Ws.open(port));
    const text = await ws.next();
    expect(text[0]).toBe('0');
    const open = JSON.parse(text.slice(1));
    expect(Object.keys(open)).toEqual(OPEN_KEYS);
    expect(open).toEqual({ sid: expect.stringMatching(/^[\w-]{20}$/), upgrades: [], pingInterval: 12345, pingTimeout: 6789, maxPayload: 4321 });
  });

  test('every session gets its own sid', async () => {
    const { port } = start();
    const a = await pollingHandshake(port);
    const b = await pollingHandshake(port);
    expect(a.open.sid).not.toBe(b.open.sid);
  });

  test('allowUpgrades: false offers no upgrade and refuses one', async () => {
    const { port } = start({ allowUpgrades: false });
    const { open } = await pollingHandshake(port);
    expect(open.upgrades).toEqual([]);
    const ws = track(await Ws.open(port, `&sid=${open.sid}`));
    await ws.waitClosed();
    // The polling session is untouched.
    const p = new Polling(port, open.sid);
    expect((await p.post('6')).body).toBe('ok');
  });

  test("transports: ['polling'] offers no upgrade; websocket is an unknown transport", async () => {
    const { port } = start({ transports: ['polling'] });
    const { open } = await pollingHandshake(port);
    expect(open.upgrades).toEqual([]);
    const res = await request(port, '/socket.io/?EIO=4&transport=websocket', {
      headers: { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' },
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ code: 0, message: 'Transport unknown' });
  });

  test("transports: ['websocket'] refuses polling with code 0", async () => {
    const { port } = start({ transports: ['websocket'] });
    const res = await request(port, '/socket.io/?EIO=4&transport=polling');
    expect(res.status).toBe(400);
    expect(res.body).toBe('{"code":0,"message":"Transport unknown"}');
    const ws = track(await Ws.open(port));
    expect(JSON.parse((await ws.next()).slice(1)).upgrades).toEqual([]);
  });
});

/**
 * A bare TCP connection to `port` that collects what the server sends: `head()` resolves with
 * the first HTTP response head, `frames(n)` with the texts of the first `n` websocket frames
 * after it (short unmasked text frames, as the server sends them here).
 */
function rawConnection(port) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let data = Buffer.alloc(0);
  const waiters = [];
  socket.on('data', (chunk) => {
    data = Buffer.concat([data, chunk]);
    for (const check of waiters.slice()) check();
  });
  const when = (read) =>
    new Promise((resolve) => {
      const check = () => {
        const value = read();
        if (value === undefined) return;
        waiters.splice(waiters.indexOf(check), 1);
        resolve(value);
      };
      waiters.push(check);
      check();
    });
  return {
    socket,
    connected: once(socket, 'connect'),
    write: (bytes) => socket.write(bytes),
    /** Takes (consumes) the next HTTP response: its head, and a body of `Content-Length`. */
    response: () =>
      when(() => {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return undefined;
        const head = data.subarray(0, end).toString('latin1');
        const length = Number((/content-length: (\d+)/i.exec(head) || [0, 0])[1]);
        if (data.length < end + 4 + length) return undefined;
        const body = data.subarray(end + 4, end + 4 + length).toString();
        data = data.subarray(end + 4 + length);
        return { head, body };
      }),
    frames: (count) =>
      when(() => {
        const texts = [];
        let at = 0;
        while (texts.length < count && at + 2 <= data.length) {
          const length = data[at + 1] & 0x7f;
          if (length > 125 || at + 2 + length > data.length) return undefined;
          texts.push(data.subarray(at + 2, at + 2 + length).toString());
          at += 2 + length;
        }
        return texts.length === count ? texts : undefined;
      }),
  };
}

const UPGRADE_REQUEST =
  'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
  'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

describe('websocket requests on our own port', () => {
  afterEach(() => {
    for (const socket of rawSockets.splice(0)) socket.destroy();
  });
  const rawSockets = [];
  const connect = (port) => {
    const conn = rawConnection(port);
    rawSockets.push(conn.socket);
    return conn;
  };

  test('a request head that arrives in pieces, with a CONNECT right behind it', async () => {
    const { port } = start();
    const conn = connect(port);
    await conn.connected;
    const request = Buffer.from(UPGRADE_REQUEST);
    for (const [from, to] of [[0, 10], [10, 60], [60, request.length - 3]]) {
      conn.write(request.subarray(from, to));
      await sleep(20);
    }
    conn.write(Buffer.concat([request.subarray(request.length - 3), clientTextFrame('40')]));
    const { head } = await conn.response();
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(head).toMatch(/\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
    const [open, connected] = await conn.frames(2);
    expect(open[0]).toBe('0');
    expect(connected).toMatch(/^40\{"sid":"[\w-]{20}"\}$/);
  });

  test('an upgrade on a connection that already carried a plain HTTP request', async () => {
    const { port } = start();
    const conn = connect(port);
    await conn.connected;
    conn.write('GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const polled = await conn.response();
    expect(polled.head).toMatch(/^HTTP\/1\.1 200/);
    expect(polled.body[0]).toBe('0');
    conn.write(UPGRADE_REQUEST);
    const { head } = await conn.response();
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    conn.write(clientTextFrame('40'));
    const [open, connected] = await conn.frames(2);
    expect(open[0]).toBe('0');
    expect(connected).toMatch(/^40\{"sid":/);
  });
});

describe('request errors', () => {
  let port;
  beforeEach(() => {
    ({ port } = start());
  });

  test.each([
    ['missing EIO', '/socket.io/?transport=polling', 5, 'Unsupported protocol version'],
    ['EIO=3 (allowEIO3 off)', '/socket.io/?EIO=3&transport=polling', 5, 'Unsupported protocol version'],
    ['EIO=abc', '/socket.io/?EIO=abc&transport=polling', 5, 'Unsupported protocol version'],
    ['missing transport', '/socket.io/?EIO=4', 0, 'Transport unknown'],
    ['no query at all', '/socket.io/', 0, 'Transport unknown'],
    ['unknown transport', '/socket.io/?EIO=4&transport=tobi', 0, 'Transport unknown'],
    ['unknown sid', '/socket.io/?EIO=4&transport=polling&sid=doesnotexist', 1, 'Session ID unknown'],
    ['websocket transport without upgrade', '/socket.io/?EIO=4&transport=websocket', 3, 'Bad request'],
  ])('%s (%s) → 400 code %i', async (_name, path, code, message) => {
    const res = await request(port, path);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toBe(JSON.stringify({ code, message }));
  });

  test.each(['POST', 'PUT'])('%s handshake → 400 code 2', async (method) => {
    const res = await request(port, '/socket.io/?EIO=4&transport=polling', { method, body: '40' });
    expect(res.status).toBe(400);
    expect(res.body).toBe('{"code":2,"message":"Bad handshake method"}');
  });

  test('POST with an unknown sid → 400 code 1', async () => {
    const res = await request(port, '/socket.io/?EIO=4&transport=polling&sid=nope', { method: 'POST', body: '40' });
    expect(res.status).toBe(400);
    expect(res.body).toBe('{"code":1,"message":"Session ID unknown"}');
  });

  test('websocket handshake with a bad EIO is refused (400 code 5)', async () => {
    const ws = track(new Ws(`ws://127.0.0.1:${port}/socket.io/?EIO=3&transport=websocket`));
    await expect(ws.opened).rejects.toThrow('unexpected response 400');
    const res = await request(port, '/socket.io/?EIO=3&transport=websocket', {
      headers: { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toBe('{"code":5,"message":"Unsupported protocol version"}');
  });

  test('websocket handshake with an unknown sid is refused (400 code 1)', async () => {
    const ws = track(new Ws(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&sid=nope`));
    await expect(ws.opened).rejects.toThrow('unexpected response 400');
  });
});

describe('path option', () => {
  test('requests outside path get 404; inside it the engine answers', async () => {
    const { port } = start({ path: '/my-path' });
    const outside = await request(port, '/socket.io/?EIO=4&transport=polling');
    expect(outside.status).toBe(404);
    expect((await request(port, '/elsewhere')).status).toBe(404);
    const { open } = await pollingHandshake(port, { path: '/my-path/' });
    expect(open.upgrades).toEqual(['websocket']);
    const ws = track(await Ws.open(port, '', '/my-path/'));
    expect((await ws.next())[0]).toBe('0');
  });
});

describe('polling', () => {
  test('POST answers 200 "ok"', async () => {
    const { port } = start();
    const p = await Polling.open(port);
    const res = await p.post('40');
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
    expect(res.headers['content-type']).toBe('text/html');
  });

  test('several packets in one POST are all processed, in order', async () => {
    const { io, port } = start();
    const seen = [];
    io.on('connection', (socket) => {
      for (const name of ['a', 'b', 'c']) socket.on(name, (...args) => seen.push([name, ...args]));
    });
    const p = await Polling.open(port);
    expect(await p.connect()).toMatch(/^40\{"sid":/);
    const res = await p.post(['42["a",1]', '42["b",{"x":2}]', '6', '42["c"]'].join(SEP));
    expect(res.body).toBe('ok');
    await until(() => seen.length === 3);
    expect(seen).toEqual([['a', 1], ['b', { x: 2 }], ['c']]);
  });

  test('packets queued by the server come in one payload joined by \\x1e', async () => {
    const { io, port } = start();
    io.on('connection', (socket) => {
      socket.emit('x', 1);
      socket.emit('y', 'two');
    });
    const p = await Polling.open(port);
    await p.post('40');
    await sleep(50);
    const res = await p.get();
    expect(res.status).toBe(200);
    const [connect, ...rest] = res.body.split(SEP);
    expect(connect).toMatch(/^40\{"sid":"[\w-]{20}"\}$/);
    expect(rest).toEqual(['42["x",1]', '42["y","two"]']);
  });

  test('binary attachments travel as b + base64', async () => {
    const { io, port } = start();
    io.on('connection', (socket) => socket.emit('bin', Buffer.from([1, 2, 3]), { a: Buffer.from([4]) }));
    const p = await Polling.open(port);
    await p.post('40');
    await sleep(50);
    const packets = (await p.get()).body.split(SEP);
    expect(packets.slice(1)).toEqual([
      '452-["bin",{"_placeholder":true,"num":0},{"a":{"_placeholder":true,"num":1}}]',
      'bAQID',
      'bBA==',
    ]);
  });

  test('binary from the client in a polling payload reaches the handler as a Buffer', async () => {
    const { io, port } = start();
    const got = new Promise((resolve) => io.on('connection', (s) => s.on('up', (...args) => resolve(args))));
    const p = await Polling.open(port);
    expect(await p.connect()).toMatch(/^40\{"sid":/);
    await p.post(['451-["up",{"_placeholder":true,"num":0},"txt"]', 'bAQID'].join(SEP));
    const [buf, txt] = await got;
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect([...buf]).toEqual([1, 2, 3]);
    expect(txt).toBe('txt');
  });

  test('a duplicate GET: the first gets "1", the second 400, then the sid is unknown', async () => {
    const { io, port } = start();
    const reason = new Promise((resolve) => io.on('connection', (s) => s.on('disconnect', resolve)));
    const p = await Polling.open(port);
    await p.post('40');
    expect((await p.packets())[0]).toMatch(/^40/);
    const first = p.get();
    await sleep(50);
    const second = await p.get();
    expect(second.status).toBe(400);
    const firstRes = await first;
    expect(firstRes.status).toBe(200);
    expect(firstRes.body).toBe('1');
    const after = await p.get();
    expect(after.status).toBe(400);
    expect(after.body).toBe('{"code":1,"message":"Session ID unknown"}');
    expect(await reason).toBe('transport error');
  });

  test('a POST over maxHttpBufferSize gets 413 and closes the session', async () => {
    const { io, port } = start({ maxHttpBufferSize: 100 });
    const reason = new Promise((resolve) => io.on('connection', (s) => s.on('disconnect', resolve)));
    const p = await Polling.open(port);
    await p.post('40');
    await p.packets();
    const res = await p.post(`42["big","${'x'.repeat(200)}"]`);
    expect(res.status).toBe(413);
    expect(await reason).toBe('transport error');
    const after = await p.get();
    expect(after.status).toBe(400);
    expect(after.body).toBe('{"code":1,"message":"Session ID unknown"}');
  });

  test('a POST exactly at maxHttpBufferSize is accepted', async () => {
    const { io, port } = start({ maxHttpBufferSize: 100 });
    const got = new Promise((resolve) => io.on('connection', (s) => s.on('m', resolve)));
    const p = await Polling.open(port);
    await p.post('40');
    const body = `42["m","${'x'.repeat(100 - 10)}"]`;
    expect(body.length).toBe(100);
    expect((await p.post(body)).body).toBe('ok');
    expect(await got).toBe('x'.repeat(90));
  });

  test('client "1" with a pending GET: the GET returns "6" and the sid becomes unknown', async () => {
    const { io, port } = start();
    const reason = new Promise((resolve) => io.on('connection', (s) => s.on('disconnect', resolve)));
    const p = await Polling.open(port);
    await p.post('40');
    await p.packets();
    const pending = p.get();
    await sleep(50);
    expect((await p.post('1')).body).toBe('ok');
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toBe('6');
    expect(await reason).toBe('transport close');
    const after = await p.get();
    expect(after.status).toBe(400);
    expect(after.body).toBe('{"code":1,"message":"Session ID unknown"}');
  });

  test('a pending GET is answered as soon as the server emits', async () => {
    const { io, port } = start();
    const connected = nextConnection(io);
    const p = await Polling.open(port);
    await p.post('40');
    await p.packets();
    const socket = await connected;
    const pending = p.get();
    await sleep(50);
    socket.emit('late', 'news');
    expect((await pending).body).toBe('42["late","news"]');
  });
});

describe('heartbeat', () => {
  test('polling: the server pings after pingInterval; answering keeps the session', async () => {
    const { io, port } = start({ pingInterval: 100, pingTimeout: 300 });
    let reason;
    io.on('connection', (s) => s.on('disconnect', (r) => (reason = r)));
    const p = await Polling.open(port);
    await p.post('40');
    await p.packets();
    for (let i = 0; i < 3; i++) {
      expect(await p.packets()).toEqual(['2']);
      expect((await p.post('3')).body).toBe('ok');
    }
    expect(reason).toBeUndefined();
    expect(io.engine.clientsCount).toBe(1);
  });

  test('polling: no pong closes the session after pingTimeout; next poll 400; reason "ping timeout"', async () => {
    const { io, port } = start({ pingInterval: 100, pingTimeout: 100 });
    const reason = new Promise((resolve) => io.on('connection', (s) => s.on('disconnect', resolve)));
    const p = await Polling.open(port);
    await p.post('40');
    await p.packets();
    expect(await p.packets()).toEqual(['2']);
    expect(await reason).toBe('ping timeout');
    const res = await p.get();
    expect(res.status).toBe(400);
    expect(res.body).toBe('{"code":1,"message":"Session ID unknown"}');
    expect(io.engine.clientsCount).toBe(0);
  });

  test('websocket: ping "2", pong "3" keeps it; silence closes it with "ping timeout"', async () => {
    const { io, port } = start({ pingInterval: 100, pingTimeout: 150 });
    const reason = new Promise((resolve) => io.on('connection', (s) => s.on('disconnect', resolve)));
    const ws = track(await Ws.open(port));
    await ws.next();
    ws.send('40');
    expect(await ws.next()).toMatch(/^40\{"sid":/);
    for (let i = 0; i < 2; i++) {
      expect(await ws.next()).toBe('2');
      ws.send('3');
    }
    expect(await ws.next()).toBe('2');
    // No pong this time.
    expect(await reason).toBe('ping timeout');
    await ws.waitClosed();
  });
});

describe('upgrade', () => {
  async function polled(port) {
    const p = await Polling.open(port);
    await p.post('40');
    await p.packets();
    return p;
  }

  /** A polling session whose websocket probe was answered ("3probe"), before its "5". */
  async function probed(opts) {
    const { io, port } = start(opts);
    const connected = nextConnection(io);
    const p = await polled(port);
    const socket = await connected;
    const ws = track(await Ws.open(port, `&sid=${p.sid}`));
    ws.send('2probe');
    expect(await ws.next()).toBe('3probe');
    return { port, p, socket, ws };
  }

  test('2probe → 3probe, pending poll answered "6", then "5" moves the session to websocket', async () => {
    const { io, port } = start();
    const connected = nextConnection(io);
    const p = await polled(port);
    const socket = await connected;
    const upgraded = once(socket.conn, 'upgrade');
    const pending = p.get();
    await sleep(50);
    const ws = track(await Ws.open(port, `&sid=${p.sid}`));
    ws.send('2probe');
    expect(await ws.next()).toBe('3probe');
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toBe('6');
    ws.send('5');
    const transport = await upgraded;
    expect(transport.name).toBe('websocket');
    expect(socket.conn.transport.name).toBe('websocket');
    // Packets now flow over the websocket, both ways.
    socket.emit('hello', 'ws');
    expect(await ws.next()).toBe('42["hello","ws"]');
    const got = once(socket, 'back');
    ws.send('42["back",1]');
    expect(await got).toBe(1);
    // Polling with that sid is now a bad request (code 3).
    const after = await p.get();
    expect(after.status).toBe(400);
    expect(after.body).toBe('{"code":3,"message":"Bad request"}');
    const post = await p.post('42["x"]');
    expect(post.status).toBe(400);
    expect(post.body).toBe('{"code":3,"message":"Bad request"}');
  });

  test('packets queued during the probe still go to the poll; after "5" they go to the websocket', async () => {
    const { p, socket, ws } = await probed();
    socket.emit('during', 'probe');
    expect(await p.packets()).toEqual(['42["during","probe"]']);
    ws.send('5');
    await until(() => socket.conn.transport.name === 'websocket');
    socket.emit('after', 'upgrade');
    expect(await ws.next()).toBe('42["after","upgrade"]');
  });

  test('a session closed after "3probe" still completes the upgrade: what it sent last arrives, then the close', async () => {
    const { socket, ws } = await probed();
    // The client has moved to the websocket: it no longer polls for the DISCONNECT.
    socket.disconnect(true);
    ws.send('5');
    expect(await ws.next()).toBe('41');
    await ws.waitClosed();
  });

  test('a second websocket with the same sid is closed; the first keeps working', async () => {
    const { port, p, socket, ws } = await probed();
    ws.send('5');
    await until(() => socket.conn.transport.name === 'websocket');
    const second = track(new Ws(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&sid=${p.sid}`));
    await second.opened.catch(() => {});
    await second.waitClosed();
    socket.emit('still', 'here');
    expect(await ws.next()).toBe('42["still","here"]');
  });

  test('upgradeTimeout closes an upgrade that never sends "5"; polling keeps going', async () => {
    const { p, socket, ws } = await probed({ upgradeTimeout: 200 });
    let disconnected = false;
    socket.on('disconnect', () => (disconnected = true));
    await ws.waitClosed();
    expect(disconnected).toBe(false);
    expect(socket.conn.transport.name).toBe('polling');
    socket.emit('after', 'timeout');
    expect(await p.packets()).toEqual(['42["after","timeout"]']);
    const got = once(socket, 'up');
    expect((await p.post('42["up",true]')).body).toBe('ok');
    expect(await got).toBe(true);
  });

  test('an upgrade attempt on a websocket session is refused', async () => {
    const { port } = start();
    const { ws, open } = await wsConnected(port);
    track(ws);
    const second = track(new Ws(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&sid=${open.sid}`));
    await second.opened.catch(() => {});
    await second.waitClosed();
    ws.send('42["ok"]');
    ws.send('41');
    expect(ws.isClosed).toBe(false);
  });
});

describe('bounded send queue (maxBufferedBytes)', () => {
  const LIMIT = 64 * 1024;
  const CHUNK = 'y'.repeat(16 * 1024);

  test('polling that never GETs: overflow disconnects with "transport error"; others unaffected', async () => {
    const { io, port } = start({ maxBufferedBytes: LIMIT });
    const sockets = [];
    const reasons = new Map();
    io.on('connection', (s) => {
      sockets.push(s);
      s.on('disconnect', (r) => reasons.set(s.id, r));
    });
    const slow = await Polling.open(port);
    await slow.post('40');
    await slow.packets();
    const healthy = await wsConnected(port);
    track(healthy.ws);
    await until(() => sockets.length === 2);
    const slowSocket = sockets.find((s) => s.id !== healthy.sid);
    for (let i = 0; i < 10 && !reasons.has(slowSocket.id); i++) slowSocket.emit('big', CHUNK);
    await until(() => reasons.has(slowSocket.id));
    expect(reasons.get(slowSocket.id)).toBe('transport error');
    // The overflowing client is gone, not waiting for a poll.
    const res = await slow.get();
    expect(res.status).toBe(400);
    // Others keep working.
    io.emit('all', 'fine');
    expect(await healthy.ws.nextPacket()).toBe('42["all","fine"]');
    expect(reasons.has(healthy.sid)).toBe(false);
    expect(io.engine.clientsCount).toBe(1);
  });

  test('volatile emits to a client that is not reading are dropped, not queued', async () => {
    const { io, port } = start({ maxBufferedBytes: LIMIT });
    const connected = nextConnection(io);
    const p = await Polling.open(port);
    await p.post('40');
    await p.packets();
    const socket = await connected;
    let reason;
    socket.on('disconnect', (r) => (reason = r));
    socket.emit('kept', 1);
    // Far more than the limit, all volatile: none of it is queued, so nothing overflows.
    for (let i = 0; i < 20; i++) socket.volatile.emit('big', CHUNK);
    socket.emit('kept', 2);
    expect(await p.packets()).toEqual(['42["kept",1]', '42["kept",2]']);
    expect(reason).toBeUndefined();
    expect(socket.connected).toBe(true);
  });

  test('volatile emits reach a client that reads', async () => {
    const { io, port } = start({ maxBufferedBytes: LIMIT });
    const connected = nextConnection(io);
    const { ws } = await wsConnected(port);
    track(ws);
    (await connected).volatile.emit('v', 1);
    expect(await ws.nextPacket()).toBe('42["v",1]');
  });

  test('a websocket that stops reading: volatile emits are dropped, the session survives them', async () => {
    const { io, port } = start({ maxBufferedBytes: LIMIT });
    const connected = nextConnection(io);
    const raw = await stalledWebsocket(port);
    try {
      raw.write(clientTextFrame('40'));
      const socket = await connected;
      let reason;
      socket.on('disconnect', (r) => (reason = r));
      // 32 MB in all, far past the kernel's buffers and the 64 KiB queue limit.
      for (let i = 0; i < 2048; i++) {
        socket.volatile.emit('v', CHUNK);
        if (i % 64 === 63) await sleep(2);
      }
      await sleep(50);
      expect(reason).toBeUndefined();
      expect(socket.connected).toBe(true);
      expect(io.engine.clientsCount).toBe(1);
    } finally {
      raw.destroy();
    }
  });

  test('a websocket that stops reading is disconnected with "transport error"; others keep receiving', async () => {
    const { io, port } = start({ maxBufferedBytes: LIMIT });
    const reasons = new Map();
    const byId = new Map();
    io.on('connection', (s) => {
      byId.set(s.id, s);
      s.on('disconnect', (r) => reasons.set(s.id, r));
    });
    const healthy = await wsConnected(port);
    track(healthy.ws);
    const raw = await stalledWebsocket(port);
    try {
      // "40" as a masked client frame: join / without ever reading the reply.
      raw.write(clientTextFrame('40'));
      await until(() => byId.size === 2);
      const stalled = [...byId.values()].find((s) => s.id !== healthy.sid);
      const big = 'z'.repeat(256 * 1024);
      // Kernel buffers absorb a few MB first; bounded at 64 MB in all.
      for (let i = 0; i < 256 && !reasons.has(stalled.id); i++) {
        stalled.emit('big', big);
        if (i % 8 === 7) await sleep(5);
      }
      await until(() => reasons.has(stalled.id));
      expect(reasons.get(stalled.id)).toBe('transport error');
      io.emit('all', 'fine');
      expect(await healthy.ws.nextPacket()).toBe('42["all","fine"]');
      expect(reasons.has(healthy.sid)).toBe(false);
    } finally {
      raw.destroy();
    }
  });
});
