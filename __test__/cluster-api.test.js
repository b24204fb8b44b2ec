'use strict';

// The cluster-style operations on a single server (the in-memory adapter): fetchSockets,
// socketsJoin/Leave, disconnectSockets, serverSideEmit. A cluster adapter makes them cluster-wide.

const { TRANSPORTS, clientScope, once } = require('./helpers');

describe.each(Object.keys(TRANSPORTS))('over %s', (transport) => {
  const scope = clientScope(transport);
  let server;
  const connect = (query) => scope.connect({ query });

  beforeEach(() => {
    server = scope.start();
  });

  test('fetchSockets returns the selected sockets, usable like socket.io RemoteSockets', async () => {
    const a = await connect({ name: 'a' });
    const b = await connect({ name: 'b' });
    a.s.join('room');
    a.s.data.user = 'alice';
    const all = await server.io.fetchSockets();
    expect(all.map((s) => s.id).sort()).toEqual([a.s.id, b.s.id].sort());
    const [inRoom] = await server.io.in('room').fetchSockets();
    expect(inRoom.id).toBe(a.c.id);
    expect(inRoom.handshake.query.name).toBe('a');
    expect(inRoom.rooms).toEqual(new Set([a.s.id, 'room']));
    expect(inRoom.data).toEqual({ user: 'alice' });
    expect((await server.io.except('room').fetchSockets()).map((s) => s.id)).toEqual([b.s.id]);
    const hello = once(a.c, 'hello');
    inRoom.emit('hello', 'from a fetched socket');
    expect(await hello).toBe('from a fetched socket');
    inRoom.leave('room');
    expect(await server.io.in('room').fetchSockets()).toEqual([]);
    const gone = once(b.c, 'disconnect');
    const [fetchedB] = await server.io.except(a.s.id).fetchSockets();
    fetchedB.disconnect();
    expect((await gone)[0]).toBe('io server disconnect');
  });

  test('socketsJoin, socketsLeave and disconnectSockets act on the selection', async () => {
    const a = await connect();
    const b = await connect();
    server.io.except(b.s.id).socketsJoin(['x', 'y']);
    expect(a.s.rooms).toEqual(new Set([a.s.id, 'x', 'y']));
    expect(b.s.rooms).toEqual(new Set([b.s.id]));
    server.io.in('x').socketsLeave('y');
    expect(a.s.rooms).toEqual(new Set([a.s.id, 'x']));
    const gone = once(a.c, 'disconnect');
    server.io.in('x').disconnectSockets();
    expect((await gone)[0]).toBe('io server disconnect');
    expect(b.c.connected).toBe(true);
  });

  test('serverSideEmit: alone in its cluster, acks get no responses; reserved names throw', async () => {
    await connect();
    await expect(server.io.serverSideEmitWithAck('ping')).resolves.toEqual([]);
    const answer = await new Promise((resolve) => server.io.of('/').serverSideEmit('ping', 1, (...r) => resolve(r)));
    expect(answer).toEqual([null, []]);
    expect(server.io.serverSideEmit('no-ack', 1)).toBe(true);
    expect(() => server.io.serverSideEmit('connect')).toThrow('"connect" is a reserved event name');
  });
});
