'use strict';

// socket.io-client 2.x (engine.io revision 3, socket.io protocol v4) against `allowEIO3: true`.
// Every scenario runs against the real socket.io 4.8 first, then against us (attached to an
// http.Server, and on our own port), and what the clients and the server saw must be the same.

const http = require('http');
const ioV2 = require('socket.io-client-v2');
const RealServer = require('socket.io').Server;
const { Server } = require('..');
const { client: clientV4, once, until } = require('./helpers');

const V2_TRANSPORTS = {
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'], upgrade: false },
  upgrade: { transports: ['polling', 'websocket'] },
};

const OURS = {
  'socket.io-native attached to an http.Server': { Impl: Server, attached: true },
  'socket.io-native on its own port': { Impl: Server, attached: false },
};
const REAL = { Impl: RealServer, attached: true };

async function start({ Impl, attached }, opts) {
  if (!attached) {
    const io = new Impl(0, opts);
    return { io, port: io.port };
  }
  const httpServer = http.createServer();
  const io = new Impl(httpServer, opts);
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return { io, port: httpServer.address().port, httpServer };
}

/**
 * Runs `scenario` on a fresh server; clients it tracks are closed and the server is closed
 * afterwards, whatever happens.
 */
async function observe(impl, opts, scenario) {
  const server = await start(impl, opts);
  const clients = [];
  const track = (c) => {
    clients.push(c);
    return c;
  };
  try {
    return await scenario({ ...server, url: `http://127.0.0.1:${server.port}`, track });
  } finally {
    for (const c of clients) c.close();
    await new Promise((resolve) => {
      server.io.close(() => resolve());
      if (server.httpServer) server.httpServer.closeAllConnections();
    });
  }
}

/** Runs a scenario on socket.io 4.8 and on each of our ways in; returns socket.io's result. */
async function sameAsSocketIo(opts, scenario) {
  const expected = await observe(REAL, opts, scenario);
  for (const [name, impl] of Object.entries(OURS)) {
    const got = await observe(impl, opts, scenario);
    expect({ [name]: got }).toEqual({ [name]: expected });
  }
  return expected;
}

function v2(url, transport, opts = {}) {
  return ioV2(url, { reconnection: false, forceNew: true, ...V2_TRANSPORTS[transport], ...opts });
}

async function upgraded(c, transport) {
  if (transport === 'upgrade') await until(() => c.io.engine.transport.name === 'websocket');
}

/** Binary values as plain arrays, so results compare across servers and clients. */
function plain(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { binary: [...new Uint8Array(value.buffer || value, value.byteOffset || 0, value.byteLength)] };
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** The first argument of the next `event` (socket.io adds a description to `disconnect`). */
function first(emitter, event) {
  return once(emitter, event).then((args) => (Array.isArray(args) ? args[0] : args));
}

/** The next server-side connection of namespace `nsp`. */
function nextConnection(nsp) {
  return new Promise((resolve) => nsp.once('connection', resolve));
}

describe.each(Object.keys(V2_TRANSPORTS))('socket.io-client 2.x over %s', (transport) => {
  test('joins / on its own; events, acks and binary both ways', async () => {
    const seen = await sameAsSocketIo({ allowEIO3: true }, async ({ io, url, track }) => {
      io.on('connection', (s) => {
        s.on('echo', (...args) => args.pop()(...args));
      });
      const connection = nextConnection(io.sockets);
      const c = track(v2(url, transport, { query: { foo: 'bar' } }));
      const [s] = await Promise.all([connection, once(c, 'connect')]);
      await upgraded(c, transport);
      const result = {
        idIsEngineId: s.id === s.conn.id,
        clientId: c.id === s.id,
        protocol: s.conn.protocol,
        auth: s.handshake.auth,
        query: { EIO: s.handshake.query.EIO, foo: s.handshake.query.foo },
      };
      c.on('greet', (text, buf, ack) => ack(`${text}!`, Buffer.from([...buf].reverse())));
      result.serverAck = plain(
        await new Promise((resolve) => s.emit('greet', 'héllo 😀', Buffer.from([1, 2, 3]), (...a) => resolve(a))),
      );
      result.clientAck = plain(
        await new Promise((resolve) => c.emit('echo', 'a', { b: [1, 'ü'], c: Buffer.from([7]) }, (...a) => resolve(a))),
      );
      const broadcast = once(c, 'news');
      io.emit('news', Buffer.from([9]), 'x');
      result.broadcast = plain(await broadcast);
      return result;
    });
    expect(seen).toEqual({
      idIsEngineId: true,
      clientId: true,
      protocol: 3,
      auth: {},
      query: { EIO: '3', foo: 'bar' },
      serverAck: ['héllo 😀!', { binary: [3, 2, 1] }],
      clientAck: ['a', { b: [1, 'ü'], c: { binary: [7] } }],
      broadcast: [{ binary: [9] }, 'x'],
    });
  });

  test('socket.io 4 server features reach 2.x clients: broadcast acks, socket.use, onAny, fetchSockets, socketsJoin, compression', async () => {
    const opts = { allowEIO3: true, perMessageDeflate: { threshold: 100 } };
    const seen = await sameAsSocketIo(opts, async ({ io, url, track }) => {
      const connection = nextConnection(io.sockets);
      const c = track(v2(url, transport));
      const [s] = await Promise.all([connection, once(c, 'connect')]);
      await upgraded(c, transport);
      const result = {};
      c.on('question', (n, ack) => ack(n * 2));
      result.broadcastAck = await new Promise((resolve) =>
        io.timeout(2000).emit('question', 21, (err, responses) => resolve([err, responses])),
      );
      const anyEvents = [];
      s.onAny((event, ...args) => anyEvents.push([event, ...args]));
      const errors = [];
      s.on('error', (err) => errors.push(err.message));
      s.use(([event], next) => next(event === 'forbidden' ? new Error('not allowed') : undefined));
      const delivered = [];
      s.on('forbidden', () => delivered.push('forbidden'));
      s.on('allowed', (ack) => ack('ok'));
      c.emit('forbidden');
      result.allowedAck = await new Promise((resolve) => c.emit('allowed', resolve));
      result.anyEvents = anyEvents.map(([event]) => event);
      result.middleware = { errors, delivered };
      io.socketsJoin('room');
      const fetched = await io.in('room').fetchSockets();
      result.fetched = fetched.map((f) => ({ sameId: f.id === s.id, rooms: [...f.rooms].filter((r) => r !== s.id) }));
      const big = 'big '.repeat(300);
      const back = once(c, 'big');
      io.to('room').emit('big', big);
      result.bigArrived = (await back) === big;
      result.bigEcho = await new Promise((resolve) => {
        s.on('big-echo', (value, ack) => ack(value === big));
        c.emit('big-echo', big, resolve);
      });
      const gone = first(c, 'disconnect');
      io.in('room').disconnectSockets();
      result.disconnect = await gone;
      return result;
    });
    expect(seen).toEqual({
      broadcastAck: [null, [42]],
      allowedAck: 'ok',
      anyEvents: ['forbidden', 'allowed'],
      middleware: { errors: ['not allowed'], delivered: [] },
      fetched: [{ sameId: true, rooms: ['room'] }],
      bigArrived: true,
      bigEcho: true,
      disconnect: 'io server disconnect',
    });
  });

  test('namespaces with a query, middleware errors as strings, unknown namespaces', async () => {
    const seen = await sameAsSocketIo({ allowEIO3: true }, async ({ io, url, track }) => {
      const okConnection = nextConnection(io.of('/ok'));
      io.of('/refused').use((s, next) => next(new Error('nope')));
      io.of('/data').use((s, next) => next(Object.assign(new Error('ignored'), { data: { code: 42 } })));
      const ok = track(v2(`${url}/ok`, transport, { query: { y: '2' } }));
      const [s] = await Promise.all([okConnection, once(ok, 'connect')]);
      const result = {
        id: s.id === `/ok#${s.conn.id}`,
        clientId: ok.id === s.id,
        auth: s.handshake.auth,
        queryY: s.handshake.query.y,
      };
      const okBroadcast = once(ok, 'only-ok');
      io.of('/ok').emit('only-ok', 1);
      result.okBroadcast = await okBroadcast;
      result.refused = await once(track(v2(`${url}/refused`, transport)), 'error');
      result.data = await once(track(v2(`${url}/data`, transport)), 'error');
      result.nowhere = await once(track(v2(`${url}/nowhere`, transport)), 'error');
      return result;
    });
    expect(seen).toEqual({
      id: true,
      clientId: true,
      auth: { y: '2' },
      queryY: '2',
      okBroadcast: 1,
      refused: 'nope',
      data: { code: 42 },
      nowhere: { message: 'Invalid namespace' },
    });
  });

  test('disconnect reasons on both sides', async () => {
    const seen = await sameAsSocketIo({ allowEIO3: true }, async ({ io, url, track }) => {
      let connection = nextConnection(io.sockets);
      const kicked = track(v2(url, transport));
      const [s1] = await Promise.all([connection, once(kicked, 'connect')]);
      await upgraded(kicked, transport);
      const kickedReasons = Promise.all([first(kicked, 'disconnect'), first(s1, 'disconnect')]);
      s1.disconnect();
      connection = nextConnection(io.sockets);
      const leaving = track(v2(url, transport));
      const [s2] = await Promise.all([connection, once(leaving, 'connect')]);
      await upgraded(leaving, transport);
      const leftReasons = Promise.all([first(leaving, 'disconnect'), first(s2, 'disconnect')]);
      leaving.close();
      return { kicked: await kickedReasons, left: await leftReasons };
    });
    expect(seen).toEqual({
      kicked: ['io server disconnect', 'server namespace disconnect'],
      left: ['io client disconnect', 'client namespace disconnect'],
    });
  });
});

test('2.x and 4.x clients on one server hear each other’s broadcasts, binary included', async () => {
  const seen = await sameAsSocketIo({ allowEIO3: true }, async ({ io, url, track }) => {
    io.on('connection', (s) => {
      s.join('room');
      s.on('shout', (...args) => s.to('room').emit('heard', ...args));
    });
    const clients = [
      track(v2(url, 'websocket')),
      track(v2(url, 'polling')),
      track(clientV4(url, { transports: ['websocket'] })),
      track(clientV4(url, { transports: ['polling'], upgrade: false })),
    ];
    await Promise.all(clients.map((c) => once(c, 'connect')));
    await until(() => io.sockets.sockets.size === clients.length);
    const news = Promise.all(clients.map((c) => once(c, 'news')));
    io.to('room').emit('news', 'to all', Buffer.from([1, 2]));
    const result = { news: plain(await news) };
    const [v2ws, , v4ws] = clients;
    let heard = Promise.all(clients.filter((c) => c !== v4ws).map((c) => once(c, 'heard')));
    v4ws.emit('shout', 'from 4.x', Buffer.from([4]));
    result.fromV4 = plain(await heard);
    heard = Promise.all(clients.filter((c) => c !== v2ws).map((c) => once(c, 'heard')));
    v2ws.emit('shout', 'from 2.x', Buffer.from([2]));
    result.fromV2 = plain(await heard);
    result.protocols = [...io.sockets.sockets.values()].map((s) => s.conn.protocol).sort();
    return result;
  });
  expect(seen.news).toEqual(Array(4).fill(['to all', { binary: [1, 2] }]));
  expect(seen.fromV4).toEqual(Array(3).fill(['from 4.x', { binary: [4] }]));
  expect(seen.fromV2).toEqual(Array(3).fill(['from 2.x', { binary: [2] }]));
  expect(seen.protocols).toEqual([3, 3, 4, 4]);
});

// Raw HTTP: what goes on the wire for revision 3 polling.

/** One HTTP request; the body as bytes and text. */
function request(port, path, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode, type: res.headers['content-type'], bytes, text: bytes.toString() });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A v3 polling session; `query` is added to every request (e.g. `&b64=1`). */
async function v3Session(port, query) {
  const handshake = await request(port, `/socket.io/?EIO=3&transport=polling${query}`);
  const sid = JSON.parse(handshake.text.slice(handshake.text.indexOf(':') + 2)).sid;
  const url = `/socket.io/?EIO=3&transport=polling${query}&sid=${sid}`;
  return {
    sid,
    handshake: { type: handshake.type, text: handshake.text.replace(sid, 'SID') },
    get: () => request(port, url),
    post: (body, headers) => request(port, url, { method: 'POST', body, headers }),
    url,
  };
}

/** `<length>:<packet>` with the length in UTF-16 code units, as a 2.x client frames it. */
function record(packet) {
  return `${packet.length}:${packet}`;
}

test('revision 3 polling framing on the wire, base64 and binary payloads', async () => {
  const seen = await sameAsSocketIo({ allowEIO3: true, pingInterval: 60000 }, async ({ io, port }) => {
    const sockets = [];
    io.on('connection', (s) => sockets.push(s));
    const result = {};

    // A client with b64 (socket.io-client 2.x in Node): binary packets travel as base64 records.
    const b64 = await v3Session(port, '&b64=1');
    result.handshake = b64.handshake;
    result.connect = (await b64.get()).text;
    result.pingPost = (await b64.post('1:2')).text;
    result.pong = (await b64.get()).text;
    await until(() => sockets.length === 1);
    sockets[0].emit('m', 'é😀', Buffer.from([1, 2, 3]));
    result.base64 = await b64.get().then(({ type, text }) => ({ type, text }));
    const up = once(sockets[0], 'up');
    await b64.post(record('451-["up","ü",{"_placeholder":true,"num":0}]') + record('b4CQk='));
    result.up = plain(await up);
    result.otherRevision = await request(port, b64.url.replace('EIO=3', 'EIO=4')).then(({ status, text }) => ({ status, text }));

    // A client without b64 (a browser with XHR2): a payload holding binary is binary.
    const binary = await v3Session(port, '');
    result.binaryConnect = (await binary.get()).text;
    await until(() => sockets.length === 2);
    sockets[1].emit('m', 'é', Buffer.from([1, 2, 3]));
    result.binaryPayload = await binary.get().then(({ type, bytes }) => ({ type, bytes: [...bytes] }));
    const upBinary = once(sockets[1], 'up');
    const text = Buffer.from('451-["up",{"_placeholder":true,"num":0}]');
    const digits = (n) => [...String(n)].map(Number);
    const body = Buffer.from([0, ...digits(text.length), 255, ...text, 1, ...digits(3), 255, 4, 8, 9]);
    await binary.post(body, { 'Content-Type': 'application/octet-stream' });
    result.upBinary = plain(await upBinary);
    return result;
  });
  expect(seen.handshake).toEqual({
    type: 'text/plain; charset=UTF-8',
    text: '118:0{"sid":"SID","upgrades":["websocket"],"pingInterval":60000,"pingTimeout":20000,"maxPayload":1000000}',
  });
  expect(seen.connect).toBe('2:40');
  expect(seen.pong).toBe('1:3');
  expect(seen.base64.text).toBe(`${record('451-["m","é😀",{"_placeholder":true,"num":0}]')}6:b4AQID`);
  expect(seen.up).toEqual(['ü', { binary: [9, 9] }]);
  expect(seen.otherRevision).toEqual({ status: 400, text: '{"code":3,"message":"Bad request"}' });
  expect(seen.binaryPayload.type).toBe('application/octet-stream');
  expect(seen.upBinary).toEqual({ binary: [8, 9] });
});

test('a revision 3 client that stops pinging times out (the server never pings it)', async () => {
  const seen = await sameAsSocketIo({ allowEIO3: true, pingInterval: 50, pingTimeout: 50 }, async ({ io, port }) => {
    const connection = nextConnection(io.sockets);
    const session = await v3Session(port, '&b64=1');
    const connect = (await session.get()).text;
    const s = await connection;
    const reason = first(s, 'disconnect');
    const lastPoll = session.get();
    return { connect, reason: await reason, lastPoll: (await lastPoll).text };
  });
  expect(seen).toEqual({ connect: '2:40', reason: 'ping timeout', lastPoll: '1:1' });
});

test('without allowEIO3, EIO=3 is refused with "Unsupported protocol version"', async () => {
  const seen = await sameAsSocketIo({}, async ({ port }) => {
    const res = await request(port, '/socket.io/?EIO=3&transport=polling&b64=1');
    return { status: res.status, type: res.type, text: res.text };
  });
  expect(seen).toEqual({
    status: 400,
    type: 'application/json',
    text: '{"code":5,"message":"Unsupported protocol version"}',
  });
});

test('a revision 4 client may not post a binary payload', async () => {
  const seen = await sameAsSocketIo({ allowEIO3: true }, async ({ io, port }) => {
    const handshake = await request(port, '/socket.io/?EIO=4&transport=polling');
    const { sid } = JSON.parse(handshake.text.slice(1));
    const url = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const connection = nextConnection(io.sockets);
    await request(port, url, { method: 'POST', body: '40' });
    await request(port, url);
    const s = await connection;
    // A poll is pending when the bad POST comes, so the close answers it at once.
    const pending = request(port, url);
    await until(() => s.conn.transport.writable);
    const res = await request(port, url, {
      method: 'POST',
      body: Buffer.from([0, 1, 255, 52]),
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    const after = await request(port, url);
    return { status: res.status, pending: (await pending).text, after: after.status };
  });
  expect(seen).toEqual({ status: 400, pending: '1', after: 400 });
});
