'use strict';

const http = require('http');
const createServer = require('..');
const { Server, Namespace } = require('..');
const { TRANSPORTS, once, settled, until } = require('./helpers');
const { harness, next, collect, roundTrip } = require('./fixtures/api-harness');

let h;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.cleanup());

describe('constructing and listening', () => {
  test('new Server(port) listens on its own port', async () => {
    const { io, url } = h.server();
    expect(io.port).toBeGreaterThan(0);
    const { s } = await h.connect(io, url, TRANSPORTS.websocket);
    expect(s.nsp).toBe(io.sockets);
  });

  test('new Server(opts) then listen(0) and options as second argument', async () => {
    const io = h.track(new Server({ path: '/custom' }));
    io.listen(0);
    const url = `http://127.0.0.1:${io.port}`;
    const { c } = await h.connect(io, url, { ...TRANSPORTS.polling, path: '/custom' });
    expect(c.connected).toBe(true);
    expect(io.opts.path).toBe('/custom');
  });

  test('new Server(httpServer, opts) shares the server with the app', async () => {
    const { io, url } = await h.attached({ path: '/rt' });
    const res = await fetch(`${url}/hello`);
    expect(await res.text()).toBe('app route');
    for (const transport of ['websocket', 'polling']) {
      const { c, s } = await h.connect(io, url, { ...TRANSPORTS[transport], path: '/rt' });
      expect(s.id).toBe(c.id);
    }
  });

  test('io.attach(httpServer) after construction', async () => {
    const srv = await h.httpServer((req, res) => res.end('app'));
    const io = h.track(new Server());
    expect(io.attach(srv)).toBe(io);
    const url = `http://127.0.0.1:${srv.address().port}`;
    const { c } = await h.connect(io, url, TRANSPORTS.upgrade);
    await settled(c, 'upgrade');
    expect(io.engine.clientsCount).toBe(1);
  });

  test("require('socket.io-native')(httpServer) factory form", async () => {
    const srv = await h.httpServer();
    const io = h.track(createServer(srv));
    expect(io).toBeInstanceOf(Server);
    const url = `http://127.0.0.1:${srv.address().port}`;
    const { c, s } = await h.connect(io, url, TRANSPORTS.websocket);
    expect(s.id).toBe(c.id);
  });

  test('factory form with options only, then listen', async () => {
    const io = h.track(createServer({ path: '/f' }).listen(0));
    const { c } = await h.connect(io, `http://127.0.0.1:${io.port}`, { ...TRANSPORTS.websocket, path: '/f' });
    expect(c.connected).toBe(true);
  });
});

describe.each(Object.keys(TRANSPORTS))('server events over %s', (transport) => {
  test("'connection' and 'connect' both fire with the socket", async () => {
    const { io, url } = h.server();
    const onConnection = next(io, 'connection');
    const onConnect = next(io, 'connect');
    const { c, s } = await h.connect(io, url, TRANSPORTS[transport]);
    await settled(c, transport);
    expect((await onConnection)[0]).toBe(s);
    expect((await onConnect)[0]).toBe(s);
    expect(io.sockets.sockets.get(c.id)).toBe(s);
  });

  test('io.engine.clientsCount follows connections', async () => {
    const { io, url } = h.server();
    expect(io.engine.clientsCount).toBe(0);
    const a = await h.connect(io, url, TRANSPORTS[transport]);
    const b = await h.connect(io, url, TRANSPORTS[transport]);
    expect(io.engine.clientsCount).toBe(2);
    const gone = next(a.s, 'disconnect');
    a.c.disconnect();
    await gone;
    await until(() => io.engine.clientsCount === 1);
    expect(b.s.connected).toBe(true);
  });
});

describe('namespaces', () => {
  test('io.sockets is io.of("/"); nsp.sockets is a Map of id → socket', async () => {
    const { io, url } = h.server();
    expect(io.sockets).toBe(io.of('/'));
    expect(io.sockets).toBeInstanceOf(Namespace);
    expect(io.sockets.name).toBe('/');
    expect(io.sockets.sockets).toBeInstanceOf(Map);
    const a = await h.connect(io, url, TRANSPORTS.websocket);
    const b = await h.connect(io, url, TRANSPORTS.polling);
    expect([...io.sockets.sockets.keys()].sort()).toEqual([a.c.id, b.c.id].sort());
    expect(io.sockets.sockets.get(b.c.id)).toBe(b.s);
  });

  test('of(name) is cached, adds a leading slash, and takes a connection listener', async () => {
    const { io, url } = h.server();
    const seen = [];
    const admin = io.of('admin', (socket) => seen.push(socket));
    expect(io.of('/admin')).toBe(admin);
    expect(admin.name).toBe('/admin');
    const { c, s } = await h.connect(io, url, TRANSPORTS.websocket, '/admin');
    expect(seen).toEqual([s]);
    expect(s.nsp).toBe(admin);
    expect(admin.sockets.get(c.id)).toBe(s);
    expect(io.sockets.sockets.size).toBe(0);
  });

  test('new_namespace fires for a static namespace', () => {
    const { io } = h.server();
    const created = [];
    io.on('new_namespace', (nsp) => created.push(nsp.name));
    io.of('/one');
    io.of('/one');
    io.of('/two');
    expect(created).toEqual(['/one', '/two']);
  });

  test('an unknown namespace is refused with "Invalid namespace"', async () => {
    const { url } = h.server();
    const c = h.client(`${url}/nope`, TRANSPORTS.websocket);
    const err = await once(c, 'connect_error');
    expect(err.message).toBe('Invalid namespace');
  });

  test('of(RegExp) creates matching namespaces on demand', async () => {
    const { io, url } = h.server();
    const created = [];
    io.on('new_namespace', (nsp) => created.push(nsp.name));
    const seen = [];
    const parent = io.of(/^\/room-\d+$/);
    parent.on('connection', (socket) => seen.push(socket.nsp.name));
    const { s } = await h.connect(io, url, TRANSPORTS.websocket, '/room-42');
    expect(s.nsp.name).toBe('/room-42');
    expect(io.of('/room-42')).toBe(s.nsp);
    expect(seen).toEqual(['/room-42']);
    expect(created).toEqual(['/room-42']);
    // a second client reuses the child
    await h.connect(io, url, TRANSPORTS.polling, '/room-42');
    expect(created).toEqual(['/room-42']);
    expect(s.nsp.sockets.size).toBe(2);
    const bad = h.client(`${url}/room-x`, TRANSPORTS.websocket);
    expect((await once(bad, 'connect_error')).message).toBe('Invalid namespace');
  });

  test('of(fn) gets (name, auth, next) and decides', async () => {
    const { io, url } = h.server();
    const calls = [];
    io.of((name, auth, cb) => {
      calls.push([name, auth]);
      cb(null, auth.token === 'ok');
    }).on('connect', (socket) => socket.emit('hi', socket.nsp.name));
    const c = h.client(`${url}/dyn`, { ...TRANSPORTS.websocket, auth: { token: 'ok' } });
    const [hi] = await Promise.all([once(c, 'hi'), once(c, 'connect')]);
    expect(hi).toBe('/dyn');
    expect(calls).toEqual([['/dyn', { token: 'ok' }]]);
    const refused = h.client(`${url}/other`, { ...TRANSPORTS.polling, auth: { token: 'no' } });
    expect((await once(refused, 'connect_error')).message).toBe('Invalid namespace');
  });

  test('of(fn) refusing by error also answers "Invalid namespace"', async () => {
    const { io, url } = h.server();
    io.of((name, auth, cb) => cb(new Error('nope')));
    const c = h.client(`${url}/x`, TRANSPORTS.websocket);
    expect((await once(c, 'connect_error')).message).toBe('Invalid namespace');
  });

  test('middleware on a dynamic parent applies to its children', async () => {
    const { io, url } = h.server();
    io.of(/^\/dyn-/).use((socket, nextFn) => {
      if (socket.handshake.auth.ok) nextFn();
      else nextFn(new Error('denied'));
    });
    const ok = await h.connect(io, url, { ...TRANSPORTS.websocket, auth: { ok: 1 } }, '/dyn-a');
    expect(ok.s.nsp.name).toBe('/dyn-a');
    const bad = h.client(`${url}/dyn-a`, TRANSPORTS.websocket);
    expect((await once(bad, 'connect_error')).message).toBe('denied');
  });

  test('emitting on a dynamic parent reaches every child namespace (rooms and except too)', async () => {
    const { io, url } = h.server();
    const parent = io.of(/^\/dyn-\d+$/);
    parent.on('connection', (socket) => {
      if (socket.nsp.name === '/dyn-1') socket.join('r');
    });
    const a = await h.connect(io, url, TRANSPORTS.websocket, '/dyn-1');
    const b = await h.connect(io, url, TRANSPORTS.polling, '/dyn-2');
    const got = { a: collect(a.c, 'm'), b: collect(b.c, 'm') };
    parent.emit('m', 'all');
    parent.to('r').emit('m', 'r');
    parent.except('r').emit('m', 'not r');
    await roundTrip(a.c, a.s);
    await roundTrip(b.c, b.s);
    // what socket.io 4.8's ParentNamespace delivers
    expect(got.a).toEqual([['all'], ['r']]);
    expect(got.b).toEqual([['all'], ['not r']]);
  });

  test.each([true, false])('cleanupEmptyChildNamespaces: %s', async (cleanup) => {
    const { io, url } = h.server({ cleanupEmptyChildNamespaces: cleanup });
    const parent = io.of(/^\/dyn-\d+$/);
    const connections = [];
    parent.on('connection', (socket) => connections.push(socket.nsp));
    const first = await h.connect(io, url, TRANSPORTS.websocket, '/dyn-1');
    const child = first.s.nsp;
    expect(io._nsps.get('/dyn-1')).toBe(child);
    first.c.disconnect();
    await until(() => child.sockets.size === 0);
    expect(io._nsps.has('/dyn-1')).toBe(!cleanup);
    // Connecting again creates the child anew (when it was cleaned up) and it works as before.
    const again = await h.connect(io, url, TRANSPORTS.polling, '/dyn-1');
    expect(again.s.nsp === child).toBe(!cleanup);
    expect(io.of('/dyn-1')).toBe(again.s.nsp);
    const got = collect(again.c, 'm');
    parent.emit('m', 'to children');
    await roundTrip(again.c, again.s);
    expect(got).toEqual([['to children']]);
    expect(connections.length).toBe(2);
  });

  test('multiplexing: one Manager, "/" and "/admin" over one connection', async () => {
    const { io, url } = h.server();
    for (const transport of Object.keys(TRANSPORTS)) {
      const manager = h.manager(url, TRANSPORTS[transport]);
      const main = manager.socket('/');
      const admin = manager.socket('/admin');
      io.of('/admin');
      await Promise.all([once(main, 'connect'), once(admin, 'connect')]);
      await settled(main, transport);
      const sMain = io.sockets.sockets.get(main.id);
      const sAdmin = io.of('/admin').sockets.get(admin.id);
      expect(sMain).toBeDefined();
      expect(sAdmin).toBeDefined();
      expect(main.id).not.toBe(admin.id);
      expect(sMain.conn).toBe(sAdmin.conn);
      expect(sMain.client).toBe(sAdmin.client);
      expect(io.engine.clientsCount).toBe(1);
      sAdmin.on('ping-admin', (ack) => ack('admin'));
      sMain.on('ping-main', (ack) => ack('main'));
      await expect(admin.emitWithAck('ping-admin')).resolves.toBe('admin');
      await expect(main.emitWithAck('ping-main')).resolves.toBe('main');
      // leaving one namespace keeps the other and the connection
      const left = next(sAdmin, 'disconnect');
      admin.disconnect();
      expect((await left)[0]).toBe('client namespace disconnect');
      await expect(main.emitWithAck('ping-main')).resolves.toBe('main');
      expect(sMain.connected).toBe(true);
      const closed = next(sMain, 'disconnect');
      manager._close();
      await closed;
      await until(() => io.engine.clientsCount === 0);
    }
  });
});

describe('attached server', () => {
  test('handshake with polling then upgrade through the http.Server', async () => {
    const srv = http.createServer((req, res) => res.end('app'));
    const io = h.track(new Server(srv));
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${srv.address().port}`;
    const upgraded = new Promise((resolve) => io.on('connection', (s) => s.conn.on('upgrade', resolve)));
    const { c } = await h.connect(io, url, TRANSPORTS.upgrade);
    const transport = await upgraded;
    expect(transport.name).toBe('websocket');
    await settled(c, 'upgrade');
    io.close();
    await new Promise((resolve) => srv.on('close', resolve));
  });
});
