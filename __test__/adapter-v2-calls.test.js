'use strict';

// The socket.io 2 era adapter calls Egg apps make on `nsp.adapter`, with node-style callbacks.

const { clientScope, once } = require('./helpers');
const { promisify } = require('util');

describe('nsp.adapter socket.io 2 calls', () => {
  const scope = clientScope('websocket');
  let adapter;
  let a;
  let b;

  beforeEach(async () => {
    const server = scope.start();
    a = await scope.connect();
    b = await scope.connect();
    a.s.join(['room1', 'room2']);
    b.s.join('room2');
    adapter = server.io.of('/').adapter;
  });

  test('clients(rooms?, cb) lists socket ids, by room union or all', async () => {
    const clients = promisify(adapter.clients.bind(adapter));
    expect((await clients()).sort()).toEqual([a.s.id, b.s.id].sort());
    expect(await clients(['room1'])).toEqual([a.s.id]);
    expect((await clients(['room1', 'room2'])).sort()).toEqual([a.s.id, b.s.id].sort());
    expect(await clients(['nobody'])).toEqual([]);
  });

  test('clientRooms(id, cb) and allRooms(cb)', async () => {
    const clientRooms = promisify(adapter.clientRooms.bind(adapter));
    expect((await clientRooms(a.s.id)).sort()).toEqual([a.s.id, 'room1', 'room2'].sort());
    expect(await clientRooms('no-such-socket')).toBeNull();
    const allRooms = promisify(adapter.allRooms.bind(adapter));
    expect((await allRooms()).sort()).toEqual([a.s.id, b.s.id, 'room1', 'room2'].sort());
  });

  test('remoteDisconnect(id, close, cb) disconnects that socket, or reports it missing', async () => {
    const remoteDisconnect = promisify(adapter.remoteDisconnect.bind(adapter));
    const gone = once(b.c, 'disconnect');
    await remoteDisconnect(b.s.id, false);
    expect((await gone)[0]).toBe('io server disconnect');
    expect(a.c.connected).toBe(true);
    await expect(remoteDisconnect('no-such-socket', true)).rejects.toThrow('socket no-such-socket not found');
  });
});
