'use strict';

// Connection state recovery, checked against socket.io 4.8 running the same scenario: what the
// client receives (and in which order), its id and `recovered` flag, and the server socket's
// restored rooms and data.

const { Server: ReferenceServer } = require('socket.io');
const { Server } = require('..');
const { TRANSPORTS, client, once, until, sleep, settled } = require('./helpers');

const servers = [];
const clients = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  for (const io of servers.splice(0)) io.close();
});

const IMPLEMENTATIONS = {
  'socket.io 4.8': (opts) => {
    const io = new ReferenceServer(0, opts);
    return { io, url: `http://127.0.0.1:${io.httpServer.address().port}` };
  },
  native: (opts) => {
    const io = new Server(0, opts);
    return { io, url: `http://127.0.0.1:${io.port}` };
  },
};

function start(implementation, opts) {
  const server = IMPLEMENTATIONS[implementation](opts);
  servers.push(server.io);
  return server;
}

function connectClient(url, transport, opts = {}) {
  const c = client(url, { ...TRANSPORTS[transport], ...opts });
  clients.push(c);
  return c;
}

/** Records what the client sees; an offset (a string last argument) is noted as `<offset>`. */
function recordClient(c, withOffsets) {
  const seen = [];
  c.on('connect', () => seen.push(['connect', c.recovered]));
  c.on('disconnect', (reason) => seen.push(['disconnect', reason]));
  c.onAny((event, ...args) => {
    if (withOffsets) {
      const offset = args.pop();
      if (typeof offset !== 'string') throw new Error(`event ${event} came without an offset`);
      args.push('<offset>');
    }
    seen.push([event, ...args]);
  });
  return seen;
}

/** The client's transport goes away without a goodbye; the server sees "transport close". */
async function dropTransport(c, serverSocket) {
  const gone = once(serverSocket, 'disconnect');
  c.io.engine.close();
  const [reason] = await gone;
  return reason;
}

/**
 * Connects, joins a room and stores data, drops the transport, broadcasts while the client is
 * away, reconnects and broadcasts again. Returns everything observable.
 */
async function recoveryScenario(implementation, transport, recoveryOpts = {}) {
  const { io, url } = start(implementation, { connectionStateRecovery: recoveryOpts });
  const sockets = [];
  let middlewareRuns = 0;
  io.use((socket, next) => {
    middlewareRuns += 1;
    next();
  });
  io.on('connection', (socket) => {
    sockets.push(socket);
    if (!socket.recovered) {
      socket.join('r');
      socket.data.user = { name: 'ann' };
    }
  });
  const c = connectClient(url, transport, { reconnection: false });
  const seen = recordClient(c, true);
  await once(c, 'connect');
  await settled(c, transport);
  const firstId = c.id;
  io.emit('m', 'before');
  sockets[0].emit('m', 'to the socket');
  await until(() => seen.length === 3);

  const serverReason = await dropTransport(c, sockets[0]);
  io.emit('m', 'to all');
  io.to('r').emit('m', 'to r');
  io.to('elsewhere').emit('m', 'to elsewhere');
  io.except('r').emit('m', 'except r');
  io.to(firstId).emit('m', 'to its id', Buffer.from([1, 2, 3]));
  io.volatile.emit('m', 'volatile');

  c.connect();
  await once(c, 'connect');
  await settled(c, transport);
  const restored = sockets[1];
  io.emit('m', 'after');
  restored.emit('m', 'to the socket again');
  await until(() => seen.filter(([e]) => e === 'm').length >= 6);
  await sleep(50);
  return {
    serverReason,
    seen,
    sameId: c.id === firstId,
    serverRecovered: restored.recovered,
    serverSameId: restored.id === firstId,
    rooms: [...restored.rooms].filter((room) => room !== restored.id),
    data: restored.data,
    middlewareRuns,
  };
}

describe.each(Object.keys(TRANSPORTS))('connection state recovery over %s', (transport) => {
  test('a client that lost its transport gets its id, rooms, data and missed packets back, as with socket.io', async () => {
    const reference = await recoveryScenario('socket.io 4.8', transport);
    const ours = await recoveryScenario('native', transport);
    expect(ours).toEqual(reference);
    // What that is, spelled out:
    expect(ours.serverReason).toBe('transport close');
    expect(ours.sameId).toBe(true);
    expect(ours.serverRecovered).toBe(true);
    expect(ours.rooms).toEqual(['r']);
    expect(ours.data).toEqual({ user: { name: 'ann' } });
    expect(ours.middlewareRuns).toBe(1);
    expect(ours.seen).toEqual([
      ['connect', false],
      ['m', 'before', '<offset>'],
      ['m', 'to the socket', '<offset>'],
      ['disconnect', 'forced close'],
      ['m', 'to all', '<offset>'],
      ['m', 'to r', '<offset>'],
      ['m', 'to its id', Buffer.from([1, 2, 3]), '<offset>'],
      ['connect', true],
      ['m', 'after', '<offset>'],
      ['m', 'to the socket again', '<offset>'],
    ]);
  });
});

describe('connection state recovery', () => {
  test('skipMiddlewares: false runs the middleware again, as with socket.io', async () => {
    const reference = await recoveryScenario('socket.io 4.8', 'websocket', { skipMiddlewares: false });
    const ours = await recoveryScenario('native', 'websocket', { skipMiddlewares: false });
    expect(ours).toEqual(reference);
    expect(ours.middlewareRuns).toBe(2);
    expect(ours.serverRecovered).toBe(true);
  });

  /** Reconnects after `pause` ms away; returns [client recovered, server recovered, same id]. */
  async function reconnectAfter(implementation, opts, leave) {
    const { io, url } = start(implementation, { connectionStateRecovery: opts });
    const sockets = [];
    io.on('connection', (socket) => sockets.push(socket));
    const c = connectClient(url, 'websocket', { reconnection: false });
    await once(c, 'connect');
    io.emit('m', 'gives the client an offset');
    await once(c, 'm');
    const firstId = c.id;
    await leave(c, sockets[0]);
    c.connect();
    await once(c, 'connect');
    await until(() => sockets.length === 2);
    return [c.recovered, sockets[1].recovered, c.id === firstId];
  }

  test('a session older than maxDisconnectionDuration is not recovered', async () => {
    const away = async (c, s) => {
      await dropTransport(c, s);
      await sleep(120);
    };
    const opts = { maxDisconnectionDuration: 50 };
    expect(await reconnectAfter('native', opts, away)).toEqual(await reconnectAfter('socket.io 4.8', opts, away));
    expect(await reconnectAfter('native', opts, away)).toEqual([false, false, false]);
  });

  test('a client that disconnected on purpose starts a new session', async () => {
    const away = async (c, s) => {
      const gone = once(s, 'disconnect');
      c.disconnect();
      await gone;
    };
    expect(await reconnectAfter('native', {}, away)).toEqual(await reconnectAfter('socket.io 4.8', {}, away));
    expect(await reconnectAfter('native', {}, away)).toEqual([false, false, false]);
  });

  test('a server-side disconnect is not recoverable either', async () => {
    const away = async (c, s) => {
      const gone = once(c, 'disconnect');
      s.disconnect();
      await gone;
    };
    expect(await reconnectAfter('native', {}, away)).toEqual(await reconnectAfter('socket.io 4.8', {}, away));
  });

  test('a session is recovered once: a second client with the same private id gets a new one', async () => {
    const { io, url } = start('native', { connectionStateRecovery: {} });
    const sockets = [];
    io.on('connection', (socket) => sockets.push(socket));
    const c = connectClient(url, 'websocket', { reconnection: false });
    await once(c, 'connect');
    io.emit('m', 'x');
    await once(c, 'm');
    const auth = { pid: sockets[0].pid, offset: c._lastOffset };
    await dropTransport(c, sockets[0]);
    const first = connectClient(url, 'websocket', { reconnection: false, auth });
    const second = connectClient(url, 'websocket', { reconnection: false, auth });
    await Promise.all([once(first, 'connect'), once(second, 'connect')]);
    await until(() => sockets.length === 3);
    expect(sockets.filter((s) => s.recovered).length).toBe(1);
    expect(new Set(sockets.slice(1).map((s) => s.id)).size).toBe(2);
  });

  test('acks and volatile packets carry no offset; without the option nothing does', async () => {
    const { io, url } = start('native', { connectionStateRecovery: {} });
    io.on('connection', (socket) => {
      socket.on('ask', (ack) => ack('answer'));
      socket.emit('with-ack', 'q', () => {});
      socket.volatile.emit('volatile', 'v');
      socket.emit('plain', 'p');
    });
    const c = connectClient(url, 'websocket');
    const got = {};
    c.on('with-ack', (...args) => {
      got.withAck = args.slice(0, -1);
      args[args.length - 1]();
    });
    c.on('volatile', (...args) => (got.volatile = args));
    c.on('plain', (...args) => (got.plain = args));
    await until(() => got.plain);
    expect(await c.emitWithAck('ask')).toBe('answer');
    expect(got.withAck).toEqual(['q']);
    expect(got.volatile).toEqual(['v']);
    expect(got.plain).toEqual(['p', expect.any(String)]);

    const plain = start('native', {});
    plain.io.on('connection', (socket) => socket.emit('plain', 'p'));
    const c2 = connectClient(plain.url, 'websocket');
    expect(await once(c2, 'plain')).toBe('p');
  });

  test('the option is checked', () => {
    expect(() => new Server({ connectionStateRecovery: { maxDisconnectionDuration: 'long' } })).toThrow(
      /connectionStateRecovery\.maxDisconnectionDuration/,
    );
  });
});
