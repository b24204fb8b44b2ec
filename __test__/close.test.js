'use strict';

const path = require('path');
const { spawn } = require('child_process');
const { Server: ReferenceServer } = require('socket.io');
const { Server } = require('..');
const { TRANSPORTS, once, settled, until } = require('./helpers');
const { harness, next } = require('./fixtures/api-harness');

let h;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.cleanup());

/**
 * What a client sees when socket.io 4.8 itself closes: the reference for our close().
 * (socket.io answers a pending poll with a dropped connection: polling clients see
 * "transport error"; websocket clients see "transport close".)
 */
async function referenceCloseReasons(transport) {
  const ref = new ReferenceServer(0);
  const port = ref.httpServer.address().port;
  const serverReason = new Promise((resolve) => ref.on('connection', (s) => s.on('disconnect', resolve)));
  const c = h.client(`http://127.0.0.1:${port}`, TRANSPORTS[transport]);
  await once(c, 'connect');
  await settled(c, transport);
  const clientReason = next(c, 'disconnect');
  ref.close();
  return { server: await serverReason, client: (await clientReason)[0] };
}

describe.each(Object.keys(TRANSPORTS))('close() over %s', (transport) => {
  const opts = TRANSPORTS[transport];

  test('server sockets get "server shutting down"; clients see what socket.io clients see', async () => {
    const expected = await referenceCloseReasons(transport);
    expect(expected.server).toBe('server shutting down');
    const { io, url } = h.server();
    const a = await h.connect(io, url, opts);
    const b = await h.connect(io, url, opts);
    await settled(a.c, transport);
    await settled(b.c, transport);
    const serverReasons = Promise.all([next(a.s, 'disconnecting'), next(a.s, 'disconnect'), next(b.s, 'disconnect')]);
    const clientReasons = Promise.all([next(a.c, 'disconnect'), next(b.c, 'disconnect')]);
    io.close();
    expect((await serverReasons).map(([r]) => r)).toEqual(Array(3).fill('server shutting down'));
    expect((await clientReasons).map(([r]) => r)).toEqual([expected.client, expected.client]);
    if (transport !== 'polling') expect(expected.client).toBe('transport close');
    expect(a.s.connected).toBe(false);
    expect(io.sockets.sockets.size).toBe(0);
  });

  test('attached: the same, and the http.Server is closed', async () => {
    const { io, url, httpServer } = await h.attached();
    const { c, s } = await h.connect(io, url, opts);
    await settled(c, transport);
    const serverReason = next(s, 'disconnect');
    const clientReason = next(c, 'disconnect');
    const closed = new Promise((resolve) => io.close(resolve));
    expect((await serverReason)[0]).toBe('server shutting down');
    expect((await clientReason)[0]).toMatch(/^transport (close|error)$/);
    await closed;
    expect(httpServer.listening).toBe(false);
  });
});

describe('close()', () => {
  test('calls its callback and frees the port: a new server can listen on it', async () => {
    const { io, port } = h.server();
    await h.connect(io, `http://127.0.0.1:${port}`, TRANSPORTS.websocket);
    await new Promise((resolve) => io.close(resolve));
    const again = h.track(new Server(port));
    expect(again.port).toBe(port);
    const { c } = await h.connect(again, `http://127.0.0.1:${port}`, TRANSPORTS.polling);
    expect(c.connected).toBe(true);
  });

  test('listen() again on the port of a closed attached server', async () => {
    const { io, httpServer, port } = await h.attached();
    await h.connect(io, `http://127.0.0.1:${port}`, TRANSPORTS.websocket);
    await new Promise((resolve) => io.close(resolve));
    const again = h.track(new Server());
    again.listen(port);
    const { c } = await h.connect(again, `http://127.0.0.1:${port}`, TRANSPORTS.websocket);
    expect(c.connected).toBe(true);
    expect(httpServer.listening).toBe(false);
  });

  test('new connections are refused after close', async () => {
    const { io, url } = h.server();
    io.close();
    const c = h.client(url, TRANSPORTS.websocket);
    const err = await once(c, 'connect_error');
    expect(err).toBeInstanceOf(Error);
  });

  test('io.engine.clientsCount drops to 0', async () => {
    const { io, url } = h.server();
    await h.connect(io, url, TRANSPORTS.websocket);
    await h.connect(io, url, TRANSPORTS.polling);
    expect(io.engine.clientsCount).toBe(2);
    io.close();
    await until(() => io.engine.clientsCount === 0);
  });

  test('sockets of every namespace are closed', async () => {
    const { io, url } = h.server();
    io.of('/admin');
    const main = await h.connect(io, url, TRANSPORTS.websocket);
    const admin = await h.connect(io, url, TRANSPORTS.websocket, '/admin');
    const reasons = Promise.all([next(main.s, 'disconnect'), next(admin.s, 'disconnect')]);
    io.close();
    expect((await reasons).map(([r]) => r)).toEqual(['server shutting down', 'server shutting down']);
  });
});

describe.each([
  ['own', 'websocket'],
  ['own', 'polling'],
  ['own', 'upgrade'],
  ['attached', 'websocket'],
  ['attached', 'polling'],
])('a process that closes its server (%s listener, %s client)', (mode, transport) => {
  test('exits by itself', async () => {
    const script = path.join(__dirname, 'fixtures', 'close-exits.js');
    const child = spawn(process.execPath, [script, mode, transport], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // A safety net only (no assertion on time): a process that hangs is killed and fails below.
    const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
    const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toContainEqual({ closed: true });
    expect(lines).toContainEqual({ server: 'server shutting down' });
    expect(lines.find((l) => l.client)).toBeDefined();
  });
});
