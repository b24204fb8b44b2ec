'use strict';

// The Redis cluster adapter against a real redis-server started here: clusters of our nodes,
// a mixed cluster with socket.io 4.8 + @socket.io/redis-adapter 8, and Redis outages.

const http = require('http');
const path = require('path');
const { spawn } = require('child_process');
const { Server: NodeServer } = require('socket.io');
const { createAdapter: nodeCreateAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');
const { Server, createAdapter } = require('..');
const { client, once, sleep } = require('./helpers');
const { RedisServer, freePort } = require('./redis');

/** Resolves once `fn()` resolves to something truthy (errors count as not yet). */
async function eventually(fn, timeoutMs = 10000) {
  const start = Date.now();
  for (;;) {
    const value = await Promise.resolve()
      .then(fn)
      .catch(() => undefined);
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await sleep(25);
  }
}

/** Waits until every node's namespace `name` sees `count` servers. */
function clustered(nodes, count, name = '/') {
  return Promise.all(nodes.map((io) => eventually(async () => (await io.of(name).adapter.serverCount()) === count)));
}

/** Collects what a client receives for `event`. */
function collect(socket, event) {
  const got = [];
  socket.on(event, (...args) => got.push(args));
  return got;
}

const WS = { transports: ['websocket'] };

describe('Redis adapter', () => {
  let redis;
  let cleanup = [];

  beforeAll(async () => {
    redis = await new RedisServer().start();
  });

  afterAll(async () => {
    if (redis) await redis.stop();
  });

  afterEach(async () => {
    const fns = cleanup.reverse();
    cleanup = [];
    for (const fn of fns) {
      try {
        await fn();
      } catch {
        // keep closing the rest
      }
    }
  });

  function ourNode(opts = {}, serverOpts = {}) {
    const io = new Server(0, { redis: { port: redis.port, ...opts }, ...serverOpts });
    cleanup.push(() => new Promise((resolve) => io.close(resolve)));
    return io;
  }

  async function connected(io, opts = {}, nsp = '') {
    const socket = client(`http://127.0.0.1:${io.port || io.httpServer.address().port}${nsp}`, { ...WS, ...opts });
    cleanup.push(() => socket.close());
    await once(socket, 'connect');
    return socket;
  }

  /** socket.io 4.8 with @socket.io/redis-adapter 8 on the same Redis. */
  async function nodeNode(opts = {}) {
    const pub = createClient({ url: redis.url });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    const httpServer = http.createServer();
    const io = new NodeServer(httpServer, { adapter: nodeCreateAdapter(pub, sub, opts) });
    await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    cleanup.push(async () => {
      await new Promise((resolve) => io.close(resolve));
      await Promise.all([pub.quit(), sub.quit()]);
    });
    return io;
  }

  describe('two of our nodes', () => {
    let a;
    let b;
    beforeEach(async () => {
      a = ourNode();
      b = ourNode();
      await clustered([a, b], 2);
    });

    it('broadcasts to every client of both, with binary, floats and nested objects', async () => {
      const onA = await connected(a);
      const onB = await connected(b);
      const payload = [{ deep: { list: [1, -40, 1.25, null, 'é', true], big: 2 ** 40 } }, Buffer.from([0, 1, 255])];
      const got = Promise.all([once(onA, 'news'), once(onB, 'news')]);
      a.emit('news', ...payload);
      for (const args of await got) {
        expect(args[0]).toEqual(payload[0]);
        expect(Buffer.from(args[1])).toEqual(payload[1]);
      }
    });

    it('honours rooms, except, volatile and local', async () => {
      const inRoom = await connected(b);
      const outside = await connected(b);
      const excluded = await connected(b);
      await eventually(() => b.sockets.sockets.size === 3);
      b.sockets.sockets.get(inRoom.id).join('r1');
      b.sockets.sockets.get(excluded.id).join(['r1', 'x']);
      const r1 = collect(inRoom, 'm');
      const all = collect(outside, 'm');
      const ex = collect(excluded, 'm');
      // Volatile first, alone: a volatile packet may be dropped while a socket's queue is busy.
      a.except('x').volatile.emit('m', 'volatile');
      await eventually(() => all.length === 1 && r1.length === 1);
      a.to('r1').except('x').emit('m', 'room');
      a.local.emit('m', 'local');
      a.compress(false).emit('m', 'last');
      await eventually(() => all.length === 2 && r1.length === 3);
      expect(r1).toEqual([['volatile'], ['room'], ['last']]);
      expect(all).toEqual([['volatile'], ['last']]);
      expect(ex).toEqual([['last']]);
    });

    it('keeps namespaces apart', async () => {
      b.of('/chat');
      a.of('/chat');
      await clustered([a, b], 2, '/chat');
      const main = await connected(b);
      const chat = await connected(b, {}, '/chat');
      const gotMain = collect(main, 'm');
      const gotChat = collect(chat, 'm');
      a.of('/chat').emit('m', 'chat');
      a.emit('m', 'main');
      await eventually(() => gotMain.length === 1 && gotChat.length === 1);
      expect(gotMain).toEqual([['main']]);
      expect(gotChat).toEqual([['chat']]);
    });

    it('fetchSockets, socketsJoin, socketsLeave and disconnectSockets reach the other node', async () => {
      b.use((socket, next) => {
        socket.data = { user: 'bob' };
        next();
      });
      const onB = await connected(b, { query: { q: '1' } });
      await eventually(() => b.sockets.sockets.size === 1);
      const remote = (await a.fetchSockets()).find((s) => s.id === onB.id);
      expect(remote.data).toEqual({ user: 'bob' });
      expect([...remote.rooms]).toEqual([onB.id]);
      expect(remote.handshake.query.q).toBe('1');

      a.socketsJoin('joined');
      await eventually(() => b.sockets.sockets.get(onB.id).rooms.has('joined'));
      expect([...(await a.in('joined').fetchSockets())].map((s) => s.id)).toEqual([onB.id]);
      a.in('joined').socketsLeave('joined');
      await eventually(() => !b.sockets.sockets.get(onB.id).rooms.has('joined'));

      const reason = once(onB, 'disconnect');
      remote.disconnect();
      expect((await reason)[0]).toBe('io server disconnect');
    });

    it('serverSideEmit, with and without ack, and allRooms', async () => {
      const seen = [];
      b.on('hello', (...args) => {
        const ack = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
        seen.push(args);
        if (ack) ack(`hi ${args[0]}`);
      });
      a.serverSideEmit('hello', 'plain', { n: 1 });
      expect(await a.serverSideEmitWithAck('hello', 'acked')).toEqual(['hi acked']);
      expect(seen).toEqual([['plain', { n: 1 }], ['acked']]);

      const onB = await connected(b);
      await eventually(() => b.sockets.sockets.size === 1);
      b.sockets.sockets.get(onB.id).join('only-on-b');
      const rooms = await a.of('/').adapter.allRooms();
      expect(rooms.has('only-on-b')).toBe(true);
    });

    it('broadcast with acks counts the clients of every node', async () => {
      const onA = await connected(a);
      const onB = await connected(b);
      onA.on('q', (x, ack) => ack(`a${x}`));
      onB.on('q', (x, ack) => ack(`b${x}`));
      const responses = await a.timeout(5000).emitWithAck('q', 1);
      expect(responses.sort()).toEqual(['a1', 'b1']);
    });

    it('answers the socket.io 2 calls cluster-wide', async () => {
      const onB = await connected(b);
      await eventually(() => b.sockets.sockets.size === 1);
      const ids = await new Promise((resolve, reject) =>
        a.of('/').adapter.clients((err, list) => (err ? reject(err) : resolve(list))),
      );
      expect(ids).toEqual([onB.id]);
      const reason = once(onB, 'disconnect');
      await new Promise((resolve, reject) => a.of('/').adapter.remoteDisconnect(onB.id, true, (err) => (err ? reject(err) : resolve())));
      expect((await reason)[0]).toBe('io server disconnect');
    });
  });

  it('a dynamic namespace joins the cluster with its first socket and leaves it when removed', async () => {
    const a = ourNode();
    const b = ourNode({}, { cleanupEmptyChildNamespaces: true });
    b.of(/^\/room-\d+$/);
    a.of('/room-1');
    await clustered([a], 1, '/room-1');
    const socket = await connected(b, {}, '/room-1');
    await clustered([a], 2, '/room-1');
    const got = once(socket, 'm');
    a.of('/room-1').emit('m', 'to the child');
    expect(await got).toBe('to the child');
    socket.disconnect();
    await clustered([a], 1, '/room-1');
  });

  it('three nodes, one in a child process, share broadcasts', async () => {
    const a = ourNode();
    const b = ourNode();
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'redis-node.js'), String(redis.port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanup.push(
      () =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    );
    const port = Number((await once(child.stdout, 'data')).toString().trim());
    await clustered([a, b], 3);
    const onA = await connected(a);
    const onB = await connected(b);
    const onChild = client(`http://127.0.0.1:${port}`, WS);
    cleanup.push(() => onChild.close());
    await once(onChild, 'connect');
    const got = Promise.all([once(onA, 'from-child'), once(onB, 'from-child'), once(onChild, 'from-a')]);
    onChild.emit('shout', 'hey');
    a.emit('from-a', 1);
    expect(await got).toEqual(['hey', 'hey', 1]);
  });

  describe('mixed with socket.io 4.8 and @socket.io/redis-adapter 8', () => {
    let ours;
    let theirs;
    beforeEach(async () => {
      ours = ourNode();
      theirs = await nodeNode();
      await clustered([ours], 2);
    });

    it('broadcasts both ways, with rooms, except and binary', async () => {
      const onOurs = await connected(ours);
      const onTheirs = await connected(theirs);
      await eventually(() => ours.sockets.sockets.size === 1 && theirs.sockets.sockets.size === 1);
      theirs.sockets.sockets.get(onTheirs.id).join('room');
      ours.sockets.sockets.get(onOurs.id).join(['room', 'skip']);
      const gotOurs = collect(onOurs, 'm');
      const gotTheirs = collect(onTheirs, 'm');
      const bin = Buffer.from([9, 8, 7]);
      ours.emit('m', 'all from ours', { bin, f: 0.5, n: null });
      theirs.emit('m', 'all from theirs', { bin, f: 0.5, n: undefined, u: [undefined] });
      ours.to('room').emit('m', 'room from ours');
      theirs.to('room').emit('m', 'room from theirs');
      theirs.except('skip').emit('m', 'except from theirs');
      ours.to('room').except('skip').emit('m', 'except from ours');
      await eventually(() => gotOurs.length === 4 && gotTheirs.length === 6);
      // Messages from two nodes may interleave: compare them in text order.
      const plain = (list) =>
        list
          .map(([text, extra]) => (extra ? [text, { ...extra, bin: Buffer.from(extra.bin) }] : [text]))
          .sort((x, y) => x[0].localeCompare(y[0]));
      const everyone = [
        ['all from ours', { bin, f: 0.5, n: null }],
        ['all from theirs', { bin, f: 0.5, u: [null] }],
        ['room from ours'],
        ['room from theirs'],
      ];
      expect(plain(gotOurs)).toEqual(everyone);
      expect(plain(gotTheirs)).toEqual(plain([...everyone, ['except from theirs'], ['except from ours']]));
    });

    it('fetchSockets and serverSideEmit both ways', async () => {
      ours.use((socket, next) => {
        socket.data = { side: 'ours' };
        next();
      });
      theirs.use((socket, next) => {
        socket.data = { side: 'theirs' };
        next();
      });
      const onOurs = await connected(ours);
      const onTheirs = await connected(theirs);
      await eventually(() => ours.sockets.sockets.size === 1 && theirs.sockets.sockets.size === 1);
      const fromOurs = await ours.fetchSockets();
      const fromTheirs = await theirs.fetchSockets();
      for (const list of [fromOurs, fromTheirs]) {
        const byId = new Map(list.map((s) => [s.id, s]));
        expect(byId.get(onOurs.id).data).toEqual({ side: 'ours' });
        expect(byId.get(onTheirs.id).data).toEqual({ side: 'theirs' });
        expect([...byId.get(onTheirs.id).rooms]).toEqual([onTheirs.id]);
        expect(typeof byId.get(onOurs.id).handshake.issued).toBe('number');
      }

      ours.on('to-ours', (x, ack) => ack(`ours got ${x}`));
      theirs.on('to-theirs', (x, ack) => ack(`theirs got ${x}`));
      expect(await ours.serverSideEmitWithAck('to-theirs', 1)).toEqual(['theirs got 1']);
      expect(await theirs.serverSideEmitWithAck('to-ours', 2)).toEqual(['ours got 2']);
      const plain = once(ours, 'plain');
      theirs.serverSideEmit('plain', { a: [1, 2] });
      expect(await plain).toEqual({ a: [1, 2] });

      theirs.socketsJoin('together');
      await eventually(() => ours.sockets.sockets.get(onOurs.id).rooms.has('together'));
      // Broadcasts with acks: each side counts the other's clients and collects their answers.
      onOurs.on('ask', (x, ack) => ack(`ours:${x}`));
      onTheirs.on('ask', (x, ack) => ack(`theirs:${x}`));
      expect((await ours.timeout(5000).emitWithAck('ask', 1)).sort()).toEqual(['ours:1', 'theirs:1']);
      expect((await theirs.timeout(5000).emitWithAck('ask', 2)).sort()).toEqual(['ours:2', 'theirs:2']);
    });
  });

  it('createAdapter(pubClient, subClient, opts) takes the settings of a node-redis client', async () => {
    const pub = createClient({ url: redis.url });
    const sub = pub.duplicate();
    const a = new Server(0);
    a.adapter(createAdapter(pub, sub, { key: 'from-clients' }));
    cleanup.push(() => new Promise((resolve) => a.close(resolve)));
    const b = ourNode({ key: 'from-clients' });
    await clustered([a, b], 2);
    const onB = await connected(b);
    const got = once(onB, 'm');
    a.emit('m', 'via clients');
    expect(await got).toBe('via clients');
  });

  it('speaks notepack.io byte for byte, both ways', async () => {
    const notepack = require('notepack.io');
    const io = ourNode();
    await clustered([io], 1);
    const sub = createClient({ url: redis.url });
    const pub = sub.duplicate();
    await Promise.all([sub.connect(), pub.connect()]);
    cleanup.push(() => Promise.all([sub.quit(), pub.quit()]));
    const published = [];
    await sub.pSubscribe('socket.io#/#*', (message) => published.push(message), true);

    const payload = { nested: { a: [1, { b: null }], s: 'x'.repeat(40) }, f: 1.5, big: 2 ** 40, neg: -(2 ** 40), t: true };
    io.emit('ours', payload, Buffer.from([1, 2, 3]));
    io.to('r').compress(false).emit('room');
    await eventually(() => published.length === 2);
    const [all, room] = published.map((bytes) => notepack.decode(bytes));
    expect(all[1]).toEqual({ type: 2, data: ['ours', payload, Buffer.from([1, 2, 3])], nsp: '/' });
    expect(all[2]).toEqual({ rooms: [], except: [], flags: {} });
    expect(room[2]).toEqual({ rooms: ['r'], except: [], flags: { compress: false } });
    // What socket.io would have encoded for the same message, to the byte.
    for (const bytes of published) expect(Buffer.compare(notepack.encode(notepack.decode(bytes)), bytes)).toBe(0);

    // And what notepack encodes, ours decodes: dates, ArrayBuffers, floats, undefined.
    const socket = await connected(io);
    const got = once(socket, 'theirs');
    const data = ['theirs', { when: new Date(Date.UTC(2024, 1, 29, 12, 0, 0, 250)), ab: new Uint8Array([9]).buffer, f: -0.25, u: undefined, list: [undefined, 2 ** 53] }];
    await pub.publish('socket.io#/#', notepack.encode(['other', { type: 2, data, nsp: '/' }, { rooms: [], except: [], flags: {} }]));
    const received = await got;
    expect({ ...received, ab: Buffer.from(received.ab) }).toEqual({
      when: '2024-02-29T12:00:00.250Z',
      ab: Buffer.from([9]),
      f: -0.25,
      list: [null, 2 ** 53],
    });
  });

  it('password, db and key prefix', async () => {
    const secured = await new RedisServer({ password: 's3cret' }).start();
    cleanup.push(() => secured.stop());
    const opts = { port: secured.port, auth_pass: 's3cret', db: 3, key: 'myapp' };
    const a = ourNode(opts);
    const b = new Server(0, { adapter: createAdapter({ url: `redis://:s3cret@127.0.0.1:${secured.port}/3`, key: 'myapp' }) });
    cleanup.push(() => new Promise((resolve) => b.close(resolve)));
    const other = ourNode({ port: secured.port, password: 's3cret', key: 'other' });
    await clustered([a, b], 2);
    await clustered([other], 1);
    const onB = await connected(b);
    const onOther = await connected(other);
    const gotOther = collect(onOther, 'm');
    const got = once(onB, 'm');
    a.emit('m', 'prefixed');
    expect(await got).toBe('prefixed');
    other.emit('m', 'mine');
    await eventually(() => gotOther.length === 1);
    expect(gotOther).toEqual([['mine']]);
  });

  it('keeps serving through a Redis outage and resumes when it is back', async () => {
    const a = ourNode({}, {});
    const b = ourNode();
    await clustered([a, b], 2);
    a.of('/').adapter.cluster.requestsTimeout = 1000;
    const onA = await connected(a);
    const onB = await connected(b);
    // What b's client gets of a's broadcasts made while Redis is away: nothing, not even late
    // (they are dropped, not queued, so a long outage costs no memory).
    const lateOnB = [];
    onB.on('m', (value) => lateOnB.push(value));
    await redis.stop();
    try {
      const local = once(onA, 'm');
      a.emit('m', 'during outage');
      expect(await local).toBe('during outage');
      // Cluster requests fail (after the command timeout) instead of hanging.
      await Promise.all([expect(a.serverSideEmitWithAck('x')).rejects.toThrow(/servers/), expect(a.fetchSockets()).rejects.toThrow()]);
      for (let i = 0; i < 1000; i++) a.emit('m', i);
    } finally {
      await redis.start();
    }
    let received = false;
    onB.on('back', () => {
      received = true;
    });
    await eventually(() => {
      a.emit('back');
      return received;
    }, 15000);
    await clustered([a, b], 2);
    expect(lateOnB).toEqual([]);
  });

  it('fails fast when Redis cannot be reached, unless failFast is false', async () => {
    const fixture = path.join(__dirname, 'fixtures', 'redis-node.js');
    const unreachable = String(await freePort());
    const failing = spawn(process.execPath, [fixture, unreachable], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    failing.stderr.on('data', (d) => (stderr += d));
    const [code] = await once(failing, 'exit');
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/cannot reach Redis.*failFast: false/);

    const starting = spawn(process.execPath, [fixture, unreachable, 'no-fail-fast'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => starting.once('exit', resolve));
    cleanup.push(async () => {
      if (starting.exitCode === null) starting.kill('SIGTERM');
      await exited;
    });
    const port = Number((await once(starting.stdout, 'data')).toString().trim());
    // Without Redis, the node still serves its own clients.
    const socket = client(`http://127.0.0.1:${port}`, WS);
    cleanup.push(() => socket.close());
    await once(socket, 'connect');
    const echoed = once(socket, 'from-child');
    socket.emit('shout', 'alone');
    expect(await echoed).toBe('alone');
  });
});
