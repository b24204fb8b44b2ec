'use strict';

const { TRANSPORTS, settled, until } = require('./helpers');
const { harness, next, collect, roundTrip } = require('./fixtures/api-harness');

let h;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.cleanup());

describe.each(Object.keys(TRANSPORTS))('rooms and broadcasting over %s', (transport) => {
  const opts = TRANSPORTS[transport];

  /** `n` connected clients of `nsp`, each collecting its "msg" events. */
  async function clients(io, url, n, nsp = '/') {
    const list = [];
    for (let i = 0; i < n; i++) {
      const { c, s } = await h.connect(io, url, opts, nsp);
      await settled(c, transport);
      list.push({ c, s, got: collect(c, 'msg') });
    }
    return list;
  }

  /** Waits until every earlier packet reached each client, then returns what each got. */
  async function received(list) {
    for (const { c, s } of list) await roundTrip(c, s);
    return list.map(({ got }) => got.map((args) => (args.length === 1 ? args[0] : args)));
  }

  test('io.emit and nsp.emit reach every socket of their namespace only', async () => {
    const { io, url } = h.server();
    io.of('/admin');
    const main = await clients(io, url, 2);
    const admin = await clients(io, url, 1, '/admin');
    io.emit('msg', 'all');
    io.of('/admin').emit('msg', 'admins');
    io.sockets.emit('msg', 'main again');
    expect(await received([...main, ...admin])).toEqual([
      ['all', 'main again'],
      ['all', 'main again'],
      ['admins'],
    ]);
  });

  test('join/leave with a string and an array; socket.rooms; adapter.rooms is a Map of Sets', async () => {
    const { io, url } = h.server();
    const [a, b] = await clients(io, url, 2);
    expect(a.s.rooms).toBeInstanceOf(Set);
    expect([...a.s.rooms]).toEqual([a.s.id]);
    a.s.join('r1');
    a.s.join(['r2', 'r3']);
    b.s.join('r1');
    expect([...a.s.rooms].sort()).toEqual([a.s.id, 'r1', 'r2', 'r3'].sort());
    const rooms = io.sockets.adapter.rooms;
    expect(rooms).toBeInstanceOf(Map);
    expect(rooms.get('r1')).toBeInstanceOf(Set);
    expect([...rooms.get('r1')].sort()).toEqual([a.s.id, b.s.id].sort());
    expect([...rooms.get('r2')]).toEqual([a.s.id]);
    expect([...rooms.get(a.s.id)]).toEqual([a.s.id]);
    expect([...rooms.get(b.s.id)]).toEqual([b.s.id]);
    a.s.leave('r2');
    expect(a.s.rooms.has('r2')).toBe(false);
    expect(io.sockets.adapter.rooms.has('r2')).toBe(false);
    a.s.leave('not-joined');
    expect([...a.s.rooms].sort()).toEqual([a.s.id, 'r1', 'r3'].sort());
    // rooms are per namespace
    expect(io.of('/other').adapter.rooms.size).toBe(0);
  });

  test('to(room) targets members; the own-id room targets one socket', async () => {
    const { io, url } = h.server();
    const [a, b, c] = await clients(io, url, 3);
    a.s.join('r');
    b.s.join('r');
    io.to('r').emit('msg', 'to r');
    io.in('r').emit('msg', 'in r');
    io.to(c.s.id).emit('msg', 'just c');
    io.to('empty').emit('msg', 'nobody');
    expect(await received([a, b, c])).toEqual([['to r', 'in r'], ['to r', 'in r'], ['just c']]);
  });

  test('to(a).to(b) and to([a, b]) are a union: each socket once', async () => {
    const { io, url } = h.server();
    const [x, y, z, w] = await clients(io, url, 4);
    x.s.join('a');
    y.s.join('b');
    z.s.join(['a', 'b']);
    io.to('a').to('b').emit('msg', 'chained');
    io.to(['a', 'b']).emit('msg', 'array');
    io.of('/').to('a').in('b').emit('msg', 'nsp');
    expect(await received([x, y, z, w])).toEqual([
      ['chained', 'array', 'nsp'],
      ['chained', 'array', 'nsp'],
      ['chained', 'array', 'nsp'],
      [],
    ]);
  });

  test('except(room) and except([...]), with and without to()', async () => {
    const { io, url } = h.server();
    const [x, y, z] = await clients(io, url, 3);
    x.s.join('a');
    y.s.join(['a', 'vip']);
    z.s.join('muted');
    io.except('muted').emit('msg', 'all but muted');
    io.to('a').except('vip').emit('msg', 'a but vip');
    io.except(['vip', 'muted']).emit('msg', 'neither');
    io.except(x.s.id).emit('msg', 'not x');
    expect(await received([x, y, z])).toEqual([
      ['all but muted', 'a but vip', 'neither'],
      ['all but muted', 'not x'],
      ['not x'],
    ]);
  });

  test('chained operators are immutable: a base operator can be reused', async () => {
    const { io, url } = h.server();
    const [x, y, z] = await clients(io, url, 3);
    x.s.join('a');
    y.s.join('a');
    y.s.join('b');
    z.s.join('c');
    const base = io.to('a');
    const narrowed = base.except('b');
    const widened = base.to('c');
    base.volatile.emit('msg', 'volatile');
    base.compress(false).emit('msg', 'uncompressed');
    narrowed.emit('msg', 'narrowed');
    widened.emit('msg', 'widened');
    base.emit('msg', 'base');
    expect(await received([x, y, z])).toEqual([
      ['volatile', 'uncompressed', 'narrowed', 'widened', 'base'],
      ['volatile', 'uncompressed', 'widened', 'base'],
      ['widened'],
    ]);
  });

  test('flag getters: io.local, io.volatile, io.compress(), socket.volatile/compress()', async () => {
    const { io, url } = h.server();
    const [a, b] = await clients(io, url, 2);
    io.local.emit('msg', 'local');
    io.compress(false).emit('msg', 'compress');
    io.sockets.local.to(a.s.id).emit('msg', 'local to a');
    a.s.compress(true).emit('msg', 'own compress');
    await received([a, b]);
    // A volatile packet is dropped when the transport is not writable (socket.io's rule; over
    // polling that means no GET is pending), so each one is sent once the recipients can take it.
    const writable = (...sockets) => until(() => sockets.every((x) => x.s.conn.transport.writable));
    await writable(a, b);
    io.volatile.emit('msg', 'volatile');
    await received([a, b]);
    await writable(a);
    expect(a.s.volatile.emit('msg', 'own volatile')).toBe(true);
    await received([a, b]);
    await writable(b);
    a.s.broadcast.volatile.emit('msg', 'broadcast volatile');
    expect(await received([a, b])).toEqual([
      ['local', 'compress', 'local to a', 'own compress', 'volatile', 'own volatile'],
      ['local', 'compress', 'volatile', 'broadcast volatile'],
    ]);
  });

  test('socket.broadcast and socket.to(room) skip the sender', async () => {
    const { io, url } = h.server();
    const [a, b, c] = await clients(io, url, 3);
    a.s.join('r');
    b.s.join('r');
    a.s.broadcast.emit('msg', 'broadcast');
    a.s.to('r').emit('msg', 'to r');
    a.s.in('r').emit('msg', 'in r');
    a.s.except('r').emit('msg', 'except r');
    a.s.broadcast.to('r').emit('msg', 'broadcast to r');
    // the socket's own emit still works afterwards (flags did not stick)
    a.s.emit('msg', 'self');
    expect(await received([a, b, c])).toEqual([
      ['self'],
      ['broadcast', 'to r', 'in r', 'broadcast to r'],
      ['broadcast', 'except r'],
    ]);
  });

  test('binary payloads in broadcasts', async () => {
    const { io, url } = h.server();
    const [a, b] = await clients(io, url, 2);
    a.s.join('r');
    io.emit('msg', Buffer.from([1, 2, 3]));
    io.to('r').emit('msg', { nested: [Buffer.from('hello'), 'x'] }, 7);
    a.s.broadcast.emit('msg', new Uint8Array([9]));
    const [ga, gb] = await received([a, b]);
    expect(ga).toHaveLength(2);
    expect([...new Uint8Array(ga[0])]).toEqual([1, 2, 3]);
    expect(Buffer.from(ga[1][0].nested[0]).toString()).toBe('hello');
    expect(ga[1][0].nested[1]).toBe('x');
    expect(ga[1][1]).toBe(7);
    expect(gb).toHaveLength(2);
    expect([...new Uint8Array(gb[0])]).toEqual([1, 2, 3]);
    expect([...new Uint8Array(gb[1])]).toEqual([9]);
  });

  test('rooms are cleaned up on disconnect; disconnecting still sees them', async () => {
    const { io, url } = h.server();
    const [a, b] = await clients(io, url, 2);
    a.s.join(['r1', 'r2']);
    b.s.join('r1');
    const seen = new Promise((resolve) => {
      a.s.on('disconnecting', () => {
        resolve({ own: [...a.s.rooms].sort(), adapter: [...io.sockets.adapter.rooms.get('r2')] });
      });
    });
    const gone = next(a.s, 'disconnect');
    a.c.disconnect();
    expect(await seen).toEqual({ own: [a.s.id, 'r1', 'r2'].sort(), adapter: [a.s.id] });
    await gone;
    const rooms = io.sockets.adapter.rooms;
    expect(rooms.has('r2')).toBe(false);
    expect(rooms.has(a.s.id)).toBe(false);
    expect([...rooms.get('r1')]).toEqual([b.s.id]);
    expect(a.s.rooms.size).toBe(0);
    io.to('r1').emit('msg', 'still works');
    expect(await received([b])).toEqual([['still works']]);
  });

  test('allSockets', async () => {
    const { io, url } = h.server();
    const [a, b, c] = await clients(io, url, 3);
    a.s.join('r');
    b.s.join('r');
    const all = await io.allSockets();
    expect(all).toBeInstanceOf(Set);
    expect([...all].sort()).toEqual([a.s.id, b.s.id, c.s.id].sort());
    expect([...(await io.in('r').allSockets())].sort()).toEqual([a.s.id, b.s.id].sort());
    expect([...(await io.to('r').except(a.s.id).allSockets())]).toEqual([b.s.id]);
    expect([...(await io.of('/').allSockets())].sort()).toEqual([...all].sort());
    expect((await io.to('none').allSockets()).size).toBe(0);
  });

  test('socketsJoin and socketsLeave', async () => {
    const { io, url } = h.server();
    const [a, b, c] = await clients(io, url, 3);
    a.s.join('src');
    b.s.join('src');
    io.socketsJoin('everyone');
    io.in('src').socketsJoin(['x', 'y']);
    expect([...a.s.rooms].sort()).toEqual([a.s.id, 'src', 'everyone', 'x', 'y'].sort());
    expect([...c.s.rooms].sort()).toEqual([c.s.id, 'everyone'].sort());
    io.in('src').except(b.s.id).socketsLeave('x');
    io.socketsLeave('everyone');
    expect([...a.s.rooms].sort()).toEqual([a.s.id, 'src', 'y'].sort());
    expect([...b.s.rooms].sort()).toEqual([b.s.id, 'src', 'x', 'y'].sort());
    expect([...c.s.rooms]).toEqual([c.s.id]);
    expect(io.sockets.adapter.rooms.has('everyone')).toBe(false);
  });

  test('disconnectSockets() on a room, then on everyone with close', async () => {
    const { io, url } = h.server();
    const [a, b, c] = await clients(io, url, 3);
    a.s.join('r');
    const aGone = next(a.c, 'disconnect');
    const aServer = next(a.s, 'disconnect');
    io.in('r').disconnectSockets();
    expect((await aGone)[0]).toBe('io server disconnect');
    expect((await aServer)[0]).toBe('server namespace disconnect');
    expect(b.s.connected).toBe(true);
    expect(io.sockets.sockets.size).toBe(2);
    const rest = Promise.all([next(b.s, 'disconnect'), next(c.s, 'disconnect')]);
    io.disconnectSockets(true);
    expect((await rest).map(([r]) => r)).toEqual(['server namespace disconnect', 'server namespace disconnect']);
    await until(() => io.engine.clientsCount === 0);
  });
});

describe('broadcasting within namespaces', () => {
  test('rooms and broadcasts of one namespace do not leak into another', async () => {
    const { io, url } = h.server();
    const manager = h.manager(url, TRANSPORTS.websocket);
    const main = manager.socket('/');
    const admin = manager.socket('/admin');
    io.of('/admin');
    await Promise.all([next(main, 'connect'), next(admin, 'connect')]);
    const sMain = io.sockets.sockets.get(main.id);
    const sAdmin = io.of('/admin').sockets.get(admin.id);
    sMain.join('shared');
    sAdmin.join('shared');
    const gotMain = collect(main, 'msg');
    const gotAdmin = collect(admin, 'msg');
    io.to('shared').emit('msg', 'main');
    io.of('/admin').to('shared').emit('msg', 'admin');
    io.of('/admin').except('shared').emit('msg', 'nobody');
    await roundTrip(main, sMain);
    await roundTrip(admin, sAdmin);
    expect(gotMain).toEqual([['main']]);
    expect(gotAdmin).toEqual([['admin']]);
    expect([...io.sockets.adapter.rooms.get('shared')]).toEqual([sMain.id]);
    expect([...io.of('/admin').adapter.rooms.get('shared')]).toEqual([sAdmin.id]);
  });
});
