'use strict';

// socket.io v5 on the wire: packets written and read by hand over real websockets and HTTP
// long-polling, with the exact text and bytes socket.io 4.8 produces.

const { once, until, sleep } = require('./helpers');
const { SEP, Polling, Ws, wsConnected, rawTestScope } = require('./raw');

const { start, track } = rawTestScope();

const PLACEHOLDER = (num) => ({ _placeholder: true, num });

/** A websocket past the engine.io handshake (open packet consumed), not yet in any namespace. */
async function opened(port) {
  const ws = track(await Ws.open(port));
  const open = await ws.next();
  expect(open[0]).toBe('0');
  return ws;
}

/** Resolves with the server-side socket of the next connection to `nsp`. */
function nextSocket(nspOrIo) {
  return once(nspOrIo, 'connection');
}

describe('CONNECT', () => {
  test('websocket: "40" → 40{"sid":…} with only the sid, the server-side socket id', async () => {
    const { io, port } = start();
    const connected = nextSocket(io);
    const ws = await opened(port);
    ws.send('40');
    const reply = await ws.next();
    expect(reply).toMatch(/^40\{"sid":"[\w-]+"\}$/);
    const body = JSON.parse(reply.slice(2));
    expect(Object.keys(body)).toEqual(['sid']);
    const socket = await connected;
    expect(socket.id).toBe(body.sid);
    expect(socket.nsp.name).toBe('/');
  });

  test('polling: "40" → 40{"sid":…}', async () => {
    const { io, port } = start();
    const connected = nextSocket(io);
    const p = await Polling.open(port);
    const reply = await p.connect();
    expect(reply).toMatch(/^40\{"sid":"[\w-]+"\}$/);
    expect((await connected).id).toBe(JSON.parse(reply.slice(2)).sid);
  });

  test('"40/custom," joins an existing namespace → 40/custom,{"sid":…}', async () => {
    const { io, port } = start();
    const connected = nextSocket(io.of('/custom'));
    const ws = await opened(port);
    ws.send('40/custom,');
    const reply = await ws.next();
    expect(reply).toMatch(/^40\/custom,\{"sid":"[\w-]+"\}$/);
    const socket = await connected;
    expect(socket.id).toBe(JSON.parse(reply.slice('40/custom,'.length)).sid);
    expect(socket.nsp.name).toBe('/custom');
  });

  test('one connection joins two namespaces with two socket ids', async () => {
    const { io, port } = start();
    io.of('/custom');
    const ws = await opened(port);
    ws.send('40');
    const main = JSON.parse((await ws.next()).slice(2)).sid;
    ws.send('40/custom,');
    const custom = JSON.parse((await ws.next()).slice('40/custom,'.length)).sid;
    expect(main).not.toBe(custom);
  });

  test('the auth payload reaches socket.handshake.auth', async () => {
    const { io, port } = start();
    const main = nextSocket(io);
    const custom = nextSocket(io.of('/custom'));
    const ws = await opened(port);
    ws.send('40{"token":"abc","n":[1,2]}');
    expect(await ws.next()).toMatch(/^40\{"sid":/);
    ws.send('40/custom,{"token":"xyz"}');
    expect(await ws.next()).toMatch(/^40\/custom,\{"sid":/);
    expect((await main).handshake.auth).toEqual({ token: 'abc', n: [1, 2] });
    expect((await custom).handshake.auth).toEqual({ token: 'xyz' });
  });

  test('no auth payload → handshake.auth is {}', async () => {
    const { io, port } = start();
    const main = nextSocket(io);
    const ws = await opened(port);
    ws.send('40');
    await ws.next();
    expect((await main).handshake.auth).toEqual({});
  });

  test('an unknown namespace → 44/random,{"message":"Invalid namespace"}; the connection stays', async () => {
    const { port } = start();
    const ws = await opened(port);
    ws.send('40/random,');
    expect(await ws.next()).toBe('44/random,{"message":"Invalid namespace"}');
    ws.send('40');
    expect(await ws.next()).toMatch(/^40\{"sid":/);
  });

  test('a middleware error → 44{"message":…,"data":…}', async () => {
    const { io, port } = start();
    io.use((socket, next) => {
      const err = new Error('not authorized');
      err.data = { reason: 'token expired', retry: false };
      next(err);
    });
    const ws = await opened(port);
    ws.send('40');
    expect(await ws.next()).toBe('44{"message":"not authorized","data":{"reason":"token expired","retry":false}}');
  });

  test('a middleware error without data → 44{"message":…}; in a namespace, with its prefix', async () => {
    const { io, port } = start();
    io.of('/custom').use((socket, next) => next(new Error('nope')));
    const ws = await opened(port);
    ws.send('40/custom,');
    expect(await ws.next()).toBe('44/custom,{"message":"nope"}');
  });

  test('connectTimeout closes a websocket session that never sends CONNECT', async () => {
    const { io, port } = start({ connectTimeout: 200 });
    const ws = await opened(port);
    await ws.waitClosed();
    expect(io.engine.clientsCount).toBe(0);
  });

  test('connectTimeout closes a polling session that never sends CONNECT', async () => {
    const { io, port } = start({ connectTimeout: 200 });
    await Polling.open(port);
    expect(io.engine.clientsCount).toBe(1);
    await until(() => io.engine.clientsCount === 0);
  });

  test('connectTimeout does not close a session that connected in time', async () => {
    const { io, port } = start({ connectTimeout: 200 });
    const { ws } = await wsConnected(port);
    track(ws);
    await sleep(400);
    expect(ws.isClosed).toBe(false);
    expect(io.engine.clientsCount).toBe(1);
  });
});

describe('DISCONNECT', () => {
  test('client "41" → reason "client namespace disconnect"; the connection stays', async () => {
    const { io, port } = start();
    const connected = nextSocket(io);
    const { ws } = await wsConnected(port);
    const socket = await connected;
    const reason = once(socket, 'disconnect');
    ws.send('41');
    expect((await reason)[0]).toBe('client namespace disconnect');
    ws.send('40');
    expect(await ws.nextPacket()).toMatch(/^40\{"sid":/);
  });

  test('server socket.disconnect() → the client gets "41" / "41/custom,"', async () => {
    const { io, port } = start();
    const main = nextSocket(io);
    const custom = nextSocket(io.of('/custom'));
    const ws = await opened(port);
    ws.send('40');
    await ws.next();
    ws.send('40/custom,');
    await ws.next();
    (await custom).disconnect();
    expect(await ws.next()).toBe('41/custom,');
    const socket = await main;
    const reason = once(socket, 'disconnect');
    socket.disconnect();
    expect(await ws.next()).toBe('41');
    expect((await reason)[0]).toBe('server namespace disconnect');
  });

  test('engine close "1" → reason "transport close"', async () => {
    const { io, port } = start();
    const connected = nextSocket(io);
    const { ws } = await wsConnected(port);
    const reason = once(await connected, 'disconnect');
    ws.send('1');
    expect((await reason)[0]).toBe('transport close');
  });
});

describe('EVENT and ACK', () => {
  test('server emit → 42["event",…]; in a namespace → 42/custom,["event",…]', async () => {
    const { io, port } = start();
    const main = nextSocket(io);
    const custom = nextSocket(io.of('/custom'));
    const ws = await opened(port);
    ws.send('40');
    await ws.next();
    ws.send('40/custom,');
    await ws.next();
    (await main).emit('hello', 'world', 1, { a: [true, null] });
    expect(await ws.next()).toBe('42["hello","world",1,{"a":[true,null]}]');
    (await custom).emit('hi');
    expect(await ws.next()).toBe('42/custom,["hi"]');
  });

  test('client ack request 42456[…] → 43456[…]', async () => {
    const { io, port } = start();
    io.on('connection', (socket) => socket.on('echo', (...args) => args.pop()(...args)));
    io.of('/custom').on('connection', (socket) => socket.on('echo', (x, ack) => ack(x, 'custom')));
    const ws = await opened(port);
    ws.send('40');
    await ws.next();
    ws.send('42456["echo",{"a":1},"b"]');
    expect(await ws.next()).toBe('43456[{"a":1},"b"]');
    ws.send('40/custom,');
    await ws.next();
    ws.send('42/custom,7["echo",2]');
    expect(await ws.next()).toBe('43/custom,7[2,"custom"]');
  });

  test('an ack with no arguments → 43N[]', async () => {
    const { io, port } = start();
    io.on('connection', (socket) => socket.on('nothing', (ack) => ack()));
    const { ws } = await wsConnected(port);
    track(ws);
    ws.send('4212["nothing"]');
    expect(await ws.nextPacket()).toBe('4312[]');
  });

  test('server ack request 42<id>[…]; the client answer 43<id>[…] reaches the callback', async () => {
    const { io, port } = start();
    const connected = nextSocket(io);
    const { ws } = await wsConnected(port);
    track(ws);
    const socket = await connected;
    const answered = new Promise((resolve) => socket.emit('ask', 1, (...args) => resolve(args)));
    const request = await ws.nextPacket();
    const match = /^42(\d+)\["ask",1\]$/.exec(request);
    expect(match).not.toBeNull();
    ws.send(`43${match[1]}["answer",{"n":2}]`);
    expect(await answered).toEqual(['answer', { n: 2 }]);
  });

  test('server ack request over polling', async () => {
    const { io, port } = start();
    const connected = nextSocket(io);
    const p = await Polling.open(port);
    await p.connect();
    const socket = await connected;
    const answered = new Promise((resolve) => socket.emit('ask', (...args) => resolve(args)));
    const [request] = await p.next();
    const match = /^42(\d+)\["ask"\]$/.exec(request);
    expect(match).not.toBeNull();
    expect((await p.post(`43${match[1]}[42]`)).body).toBe('ok');
    expect(await answered).toEqual([42]);
  });
});

describe('binary', () => {
  test('server → client: 452-[…placeholders…] then the attachments as binary frames', async () => {
    const { io, port } = start();
    const connected = nextSocket(io);
    const { ws } = await wsConnected(port);
    track(ws);
    (await connected).emit('bin', Buffer.from([1, 2, 3]), { nested: Buffer.from([0xff, 0]) }, 'text');
    expect(await ws.next()).toBe('452-["bin",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1}},"text"]');
    const first = await ws.next();
    expect(Buffer.isBuffer(first)).toBe(true);
    expect([...first]).toEqual([1, 2, 3]);
    expect([...(await ws.next())]).toEqual([0xff, 0]);
  });

  test('server → client in a namespace: 451-/custom,[…]', async () => {
    const { io, port } = start();
    const connected = nextSocket(io.of('/custom'));
    const ws = await opened(port);
    ws.send('40/custom,');
    await ws.next();
    (await connected).emit('bin', new Uint8Array([7]));
    expect(await ws.next()).toBe('451-/custom,["bin",{"_placeholder":true,"num":0}]');
    expect([...(await ws.next())]).toEqual([7]);
  });

  test('client → server: 451-[…] + binary frame reaches the handler as Buffers', async () => {
    const { io, port } = start();
    const got = new Promise((resolve) => io.on('connection', (s) => s.on('up', (...args) => resolve(args))));
    const { ws } = await wsConnected(port);
    track(ws);
    ws.send('452-["up",{"_placeholder":true,"num":0},{"k":[{"_placeholder":true,"num":1}]},"t"]');
    ws.send(Buffer.from([1, 2]));
    ws.send(Buffer.from([3]));
    const [a, b, t] = await got;
    expect(Buffer.isBuffer(a)).toBe(true);
    expect([...a]).toEqual([1, 2]);
    expect(Buffer.isBuffer(b.k[0])).toBe(true);
    expect([...b.k[0]]).toEqual([3]);
    expect(t).toBe('t');
  });

  test('binary ack from the server: 461-<id>[…] + frame', async () => {
    const { io, port } = start();
    io.on('connection', (socket) => socket.on('q', (ack) => ack(Buffer.from([9]), 'x')));
    const { ws } = await wsConnected(port);
    track(ws);
    ws.send('427["q"]');
    expect(await ws.nextPacket()).toBe('461-7[{"_placeholder":true,"num":0},"x"]');
    expect([...(await ws.next())]).toEqual([9]);
  });

  test('binary ack from the client: 461-<id>[…] + frame reaches the callback', async () => {
    const { io, port } = start();
    const connected = nextSocket(io);
    const { ws } = await wsConnected(port);
    track(ws);
    const socket = await connected;
    const answered = new Promise((resolve) => socket.emit('want', (...args) => resolve(args)));
    const id = /^42(\d+)\["want"\]$/.exec(await ws.nextPacket())[1];
    ws.send(`461-${id}[{"_placeholder":true,"num":0}]`);
    ws.send(Buffer.from([4, 5]));
    const [buf] = await answered;
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect([...buf]).toEqual([4, 5]);
  });
});

// Expectations checked against socket.io 4.8.3 with the same frames: socket.io-level garbage
// gives the socket an `error` (socket.io-parser's message) and "forced close"; engine-level
// garbage gives "parse error"; a packet the connection's state does not allow, "forced close".
describe('malformed packets close the connection', () => {
  const CASES = [
    ['unknown packet type', ['4abc'], 'forced close', 'unknown packet type NaN'],
    ['event payload not an array', ['42{}'], 'forced close', 'invalid payload'],
    ['garbage before the array', ['42abc["a"]'], 'forced close', 'invalid payload'],
    ['reserved event name "connect"', ['42["connect"]'], 'forced close', 'invalid payload'],
    ['reserved event name "disconnecting"', ['42["disconnecting"]'], 'forced close', 'invalid payload'],
    ['event without a name', ['42[]'], 'forced close', 'invalid payload'],
    ['a binary frame without a header', [Buffer.from([1, 2, 3])], 'forced close', 'got binary data when not reconstructing a packet'],
    [
      'a text frame while attachments are pending',
      ['451-["up",{"_placeholder":true,"num":0}]', '42["ok"]'],
      'forced close',
      'got plaintext data when reconstructing a packet',
    ],
    ['binary event without an attachment count', ['45["up"]'], 'forced close', 'Illegal attachments'],
    ['binary event with zero attachments', ['450-["up"]'], 'forced close', 'Illegal attachments'],
    ['binary event with too many attachments', ['4511-["up"]'], 'forced close', 'too many attachments'],
    ['engine packet of unknown type', ['9hello'], 'parse error', undefined],
    ['an event for a namespace not joined', ['42/custom,["x"]'], 'forced close', undefined],
    ['a second CONNECT to a joined namespace', ['40'], 'forced close', undefined],
    ['a CONNECT_ERROR from the client', ['44{}'], 'forced close', undefined],
  ];

  test.each(CASES)('websocket: %s', async (_name, frames, expectedReason, expectedError) => {
    const { io, port } = start();
    io.of('/custom');
    const byId = new Map();
    const reasons = new Map();
    const errors = new Map();
    io.on('connection', (s) => {
      byId.set(s.id, s);
      s.on('disconnect', (r) => reasons.set(s.id, r));
      s.on('error', (e) => errors.set(s.id, e.message));
      s.on('ok', (x) => s.emit('ok-back', x));
    });
    const good = await wsConnected(port);
    const bad = await wsConnected(port);
    track(good.ws);
    track(bad.ws);
    for (const frame of frames) bad.ws.send(frame);
    await bad.ws.waitClosed();
    await until(() => reasons.has(bad.sid));
    expect(reasons.get(bad.sid)).toBe(expectedReason);
    expect(errors.get(bad.sid)).toBe(expectedError);
    // Bad input never costs another client.
    expect(good.ws.isClosed).toBe(false);
    expect(reasons.has(good.sid)).toBe(false);
    io.emit('broadcast', 1);
    expect(await good.ws.nextPacket()).toBe('42["broadcast",1]');
    good.ws.send('42["ok",2]');
    expect(await good.ws.nextPacket()).toBe('42["ok-back",2]');
    expect(io.engine.clientsCount).toBe(1);
  });

  test('polling: "42{}" closes the session once its queue is fetched; others keep going', async () => {
    const { io, port } = start();
    const reasons = [];
    io.on('connection', (s) => s.on('disconnect', (r) => reasons.push(r)));
    const good = await wsConnected(port);
    track(good.ws);
    const p = await Polling.open(port);
    await p.connect();
    expect((await p.post('42{}')).status).toBe(200);
    await until(() => reasons.length === 1);
    expect(reasons).toEqual(['forced close']);
    let res;
    for (let i = 0; i < 3; i++) {
      res = await p.get();
      if (res.status !== 200) break;
      // Anything still handed out ends with the engine close packet.
      expect(res.body.split(SEP).pop()).toBe('1');
    }
    expect(res.status).toBe(400);
    expect(res.body).toBe('{"code":1,"message":"Session ID unknown"}');
    io.emit('still', 'up');
    expect(await good.ws.nextPacket()).toBe('42["still","up"]');
  });

  test('a bad packet in the middle of a polling payload: earlier packets were delivered', async () => {
    const { io, port } = start();
    const seen = [];
    let reason;
    io.on('connection', (s) => {
      s.on('a', (x) => seen.push(x));
      s.on('disconnect', (r) => (reason = r));
    });
    const p = await Polling.open(port);
    await p.connect();
    await p.post(['42["a",1]', '42abc', '42["a",2]'].join(SEP));
    await until(() => reason !== undefined);
    expect(reason).toBe('forced close');
    expect(seen).toEqual([1]);
  });
});
