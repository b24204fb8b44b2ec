'use strict';

const { TRANSPORTS, once, settled, until } = require('./helpers');
const { harness, next } = require('./fixtures/api-harness');

let h;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.cleanup());

const RESERVED = ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'];

describe.each(Object.keys(TRANSPORTS))('socket over %s', (transport) => {
  const opts = TRANSPORTS[transport];

  async function pair(connectOpts = {}, nsp = '/') {
    const { io, url } = h.server();
    const { c, s } = await h.connect(io, url, { ...opts, ...connectOpts }, nsp);
    await settled(c, transport);
    return { io, url, c, s };
  }

  test('id, nsp, connected/disconnected, data, extensible', async () => {
    const { io, c, s } = await pair();
    expect(s.id).toBe(c.id);
    expect(typeof s.id).toBe('string');
    expect(s.nsp).toBe(io.sockets);
    expect(s.connected).toBe(true);
    expect(s.disconnected).toBe(false);
    expect(s.data).toEqual({});
    s.data = { user: 'bob' };
    expect(s.data).toEqual({ user: 'bob' });
    s.data.more = 1;
    expect(io.sockets.sockets.get(c.id).data).toEqual({ user: 'bob', more: 1 });
    s.ctx = { anything: true };
    s.someMethod = () => 'assigned';
    expect(s.someMethod()).toBe('assigned');
    expect(io.sockets.sockets.get(c.id).ctx).toEqual({ anything: true });
  });

  test('handshake fields and request.headers', async () => {
    const before = Date.now();
    const { c, s } = await pair({
      query: { room: 'lobby' },
      auth: { token: 'abc' },
      extraHeaders: { 'x-custom': 'yes' },
    });
    const hs = s.handshake;
    expect(hs.headers.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(hs.headers['x-custom']).toBe('yes');
    expect(typeof hs.time).toBe('string');
    expect(new Date(hs.time).toString()).toBe(hs.time);
    expect(typeof hs.issued).toBe('number');
    expect(hs.issued).toBeGreaterThanOrEqual(before - 1000);
    expect(hs.issued).toBeLessThanOrEqual(Date.now());
    expect(hs.address).toMatch(/127\.0\.0\.1$/);
    expect(hs.xdomain).toBe(false);
    expect(hs.secure).toBe(false);
    const first = transport === 'websocket' ? 'websocket' : 'polling';
    expect(hs.url).toMatch(new RegExp(`^/socket\\.io/\\?.*transport=${first}`));
    expect(hs.query).toMatchObject({ room: 'lobby', EIO: '4', transport: first });
    expect(hs.auth).toEqual({ token: 'abc' });
    expect(s.request.headers['x-custom']).toBe('yes');
    expect(s.request.headers.host).toBe(hs.headers.host);
    expect(c.connected).toBe(true);
  });

  test('handshake.xdomain is true when an Origin header is sent', async () => {
    const { s } = await pair({ extraHeaders: { origin: 'http://example.com' } });
    expect(s.handshake.xdomain).toBe(true);
    expect(s.handshake.headers.origin).toBe('http://example.com');
  });

  test('conn.transport.name', async () => {
    const { s } = await pair();
    // The client switches as it sends the upgrade packet; the server follows when it reads it.
    const expected = transport === 'polling' ? 'polling' : 'websocket';
    await until(() => s.conn.transport.name === expected);
    expect(s.conn.transport.name).toBe(expected);
  });

  test('emit with an ack callback: the client acks', async () => {
    const { c, s } = await pair();
    c.on('question', (a, b, ack) => ack(a + b, { ok: true }));
    const answer = await new Promise((resolve) => s.emit('question', 2, 3, (...args) => resolve(args)));
    expect(answer).toEqual([5, { ok: true }]);
  });

  test('on(): the client ack function is the last argument', async () => {
    const { c, s } = await pair();
    s.on('sum', (...args) => {
      const ack = args.pop();
      expect(typeof ack).toBe('function');
      ack(args.reduce((a, b) => a + b, 0));
    });
    await expect(c.emitWithAck('sum', 1, 2, 3)).resolves.toBe(6);
    const got = next(s, 'plain');
    c.emit('plain', 'x', { y: [1, 2] });
    expect(await got).toEqual(['x', { y: [1, 2] }]);
  });

  test('plain events both ways keep order and types', async () => {
    const { c, s } = await pair();
    const values = ['str', 42, 1.5, true, null, [1, [2]], { a: { b: 'c' } }];
    const seen = [];
    const all = new Promise((resolve) => {
      s.on('v', (v) => {
        seen.push(v);
        if (seen.length === values.length) resolve();
      });
    });
    for (const v of values) c.emit('v', v);
    await all;
    expect(seen).toEqual(values);
    const back = [];
    const allBack = new Promise((resolve) => {
      c.on('v', (v) => {
        back.push(v);
        if (back.length === values.length) resolve();
      });
    });
    for (const v of values) s.emit('v', v);
    await allBack;
    expect(back).toEqual(values);
  });

  test('binary both ways: Buffer, nested, in acks', async () => {
    const { c, s } = await pair();
    const fromClient = next(s, 'bin');
    c.emit('bin', Buffer.from([1, 2, 3]), { nested: { deep: [Buffer.from('hi'), 'text'] } });
    const [buf, obj] = await fromClient;
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect([...buf]).toEqual([1, 2, 3]);
    expect(Buffer.from(obj.nested.deep[0]).toString()).toBe('hi');
    expect(obj.nested.deep[1]).toBe('text');

    const toClient = once(c, 'bin');
    s.emit('bin', { file: Buffer.from([9, 8, 7]), list: [Buffer.alloc(0), Uint8Array.from([5])] });
    const got = await toClient;
    expect([...new Uint8Array(got.file)]).toEqual([9, 8, 7]);
    expect(new Uint8Array(got.list[0]).length).toBe(0);
    expect([...new Uint8Array(got.list[1])]).toEqual([5]);

    s.on('echo', (data, ack) => ack(data, Buffer.from('ack')));
    const [echoed, extra] = await new Promise((resolve) =>
      c.emit('echo', { b: Buffer.from([0xff]) }, (...args) => resolve(args)),
    );
    expect([...new Uint8Array(echoed.b)]).toEqual([0xff]);
    expect(Buffer.from(extra).toString()).toBe('ack');

    c.on('askbin', (ack) => ack(Buffer.from([4, 2])));
    const answer = await new Promise((resolve) => s.emit('askbin', resolve));
    expect([...answer]).toEqual([4, 2]);
  });

  test('emitWithAck() and timeout(ms): acked, timed-out and rejected', async () => {
    const { c, s } = await pair();
    c.on('double', (n, ack) => ack(n * 2));
    c.on('silent', () => {});
    await expect(s.emitWithAck('double', 21)).resolves.toBe(42);
    await expect(s.timeout(5000).emitWithAck('double', 2)).resolves.toBe(4);
    const timed = await new Promise((resolve) => s.timeout(5000).emit('double', 5, (...args) => resolve(args)));
    expect(timed).toEqual([null, 10]);
    // the client never answers: the error comes after the (short) timeout, whatever it is
    const err = await new Promise((resolve) => s.timeout(20).emit('silent', (e) => resolve(e)));
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('operation has timed out');
    await expect(s.timeout(20).emitWithAck('silent')).rejects.toThrow('operation has timed out');
    // the flag applied to one emit only
    await expect(s.emitWithAck('double', 1)).resolves.toBe(2);
  });

  test('an ack answered twice counts once', async () => {
    const { c, s } = await pair();
    s.on('twice', (ack) => {
      ack(1);
      ack(2);
    });
    const got = [];
    await new Promise((resolve) =>
      c.emit('twice', (v) => {
        got.push(v);
        resolve();
      }),
    );
    await expect(c.emitWithAck('twice')).resolves.toBe(1);
    expect(got).toEqual([1]);
  });

  test('disconnect() inside the connection handler: connect, earlier emits, then "io server disconnect"', async () => {
    const { io, url } = h.server();
    io.on('connection', (socket) => {
      socket.emit('hello', 1);
      socket.disconnect();
    });
    const c = h.client(url, opts);
    const seen = [];
    c.on('connect', () => seen.push('connect'));
    c.on('hello', (n) => seen.push(['hello', n]));
    const [reason] = await next(c, 'disconnect');
    expect(reason).toBe('io server disconnect');
    expect(seen).toEqual(['connect', ['hello', 1]]);
  });

  test('join and broadcast to the room inside the connection handler reach the new client', async () => {
    const { io, url } = h.server();
    io.on('connection', (socket) => {
      socket.join('fresh');
      io.to('fresh').emit('room', 'welcome');
    });
    const c = h.client(url, opts);
    const got = new Promise((resolve) => c.on('room', (msg) => resolve([msg, c.connected])));
    expect(await got).toEqual(['welcome', true]);
  });

  test('disconnect(): client "io server disconnect", server "server namespace disconnect"', async () => {
    const { io, c, s } = await pair();
    const clientSide = next(c, 'disconnect');
    const serverSide = next(s, 'disconnect');
    expect(s.disconnect()).toBe(s);
    expect((await clientSide)[0]).toBe('io server disconnect');
    expect((await serverSide)[0]).toBe('server namespace disconnect');
    expect(s.connected).toBe(false);
    expect(s.disconnected).toBe(true);
    expect(io.sockets.sockets.has(s.id)).toBe(false);
    // a second call is harmless
    s.disconnect();
  });

  test('disconnect(true) closes the whole connection, other namespaces too', async () => {
    const { io, url } = h.server();
    io.of('/admin');
    const manager = h.manager(url, opts);
    const main = manager.socket('/');
    const admin = manager.socket('/admin');
    await Promise.all([once(main, 'connect'), once(admin, 'connect')]);
    await settled(main, transport);
    const sMain = io.sockets.sockets.get(main.id);
    const sAdmin = io.of('/admin').sockets.get(admin.id);
    const reasons = Promise.all([next(sMain, 'disconnect'), next(sAdmin, 'disconnect')]);
    const clientReasons = Promise.all([next(main, 'disconnect'), next(admin, 'disconnect')]);
    sMain.disconnect(true);
    const [[r1], [r2]] = await reasons;
    expect(r1).toBe('server namespace disconnect');
    expect(r2).toBe('server namespace disconnect');
    // as with socket.io 4.8, the DISCONNECT packets arrive before the transport closes
    const [[c1], [c2]] = await clientReasons;
    expect(c1).toBe('io server disconnect');
    expect(c2).toBe('io server disconnect');
    await until(() => io.engine.clientsCount === 0);
  });

  test('client socket.disconnect() → "client namespace disconnect"', async () => {
    const { io, c, s } = await pair();
    const serverSide = next(s, 'disconnect');
    const clientSide = next(c, 'disconnect');
    c.disconnect();
    expect((await clientSide)[0]).toBe('io client disconnect');
    expect((await serverSide)[0]).toBe('client namespace disconnect');
    expect(io.sockets.sockets.size).toBe(0);
  });

  test('client closing the transport → "transport close"', async () => {
    const { io, c, s } = await pair();
    const serverSide = next(s, 'disconnect');
    c.io.engine.close();
    expect((await serverSide)[0]).toBe('transport close');
    await until(() => io.engine.clientsCount === 0);
  });

  test('disconnecting fires before disconnect, with the rooms still present', async () => {
    const { io, s } = await pair();
    s.join(['a', 'b']);
    const order = [];
    const seen = new Promise((resolve) => {
      s.on('disconnecting', (reason) => {
        order.push(['disconnecting', reason, [...s.rooms].sort()]);
      });
      s.on('disconnect', (reason) => {
        order.push(['disconnect', reason]);
        resolve();
      });
    });
    s.disconnect();
    await seen;
    expect(order).toEqual([
      ['disconnecting', 'server namespace disconnect', [s.id, 'a', 'b'].sort()],
      ['disconnect', 'server namespace disconnect'],
    ]);
    expect(io.sockets.adapter.rooms.has('a')).toBe(false);
  });

  test('reserved event names throw on emit', async () => {
    const { io, s } = await pair();
    for (const name of RESERVED) {
      expect(() => s.emit(name)).toThrow(`"${name}" is a reserved event name`);
      expect(() => io.emit(name)).toThrow(`"${name}" is a reserved event name`);
      expect(() => io.to('room').emit(name)).toThrow(`"${name}" is a reserved event name`);
      expect(() => s.broadcast.emit(name)).toThrow(`"${name}" is a reserved event name`);
    }
    // the socket keeps working
    expect(s.emit('fine')).toBe(true);
  });

  test('send() and write() emit "message"', async () => {
    const { c, s } = await pair();
    const got = [];
    const two = new Promise((resolve) =>
      c.on('message', (...args) => {
        got.push(args);
        if (got.length === 2) resolve();
      }),
    );
    s.send('one', 1);
    s.write('two');
    await two;
    expect(got).toEqual([['one', 1], ['two']]);
  });

  test('what a handler sends (emits, broadcasts, its ack, to others too) arrives in the order it was sent', async () => {
    const { io, url, c, s } = await pair();
    const { c: other } = await h.connect(io, url, opts);
    await settled(other, transport);
    const seen = [];
    const otherSeen = [];
    c.onAny((event, n) => seen.push([event, n]));
    other.onAny((event, n) => otherSeen.push([event, n]));
    s.on('go', (ack) => {
      s.emit('own', 1);
      io.emit('all', 2);
      // Volatile too, where the transport can take it now (a polling client may have no GET
      // waiting, and then socket.io drops it).
      (transport === 'polling' ? s : s.volatile).emit('own', 3);
      io.to(other.id).emit('direct', 4);
      ack('done');
      s.emit('own', 5);
      io.emit('all', 6);
    });
    c.emit('go', (answer) => seen.push(['ack', answer]));
    await until(() => seen.length === 6 && otherSeen.length === 3);
    expect(seen).toEqual([['own', 1], ['all', 2], ['own', 3], ['ack', 'done'], ['own', 5], ['all', 6]]);
    expect(otherSeen).toEqual([['all', 2], ['direct', 4], ['all', 6]]);
  });

  test('acks of one batch reach their own clients in order, across namespaces, binary ones among them', async () => {
    const { io, url } = h.server();
    const answer = (tag) => (socket) =>
      socket.on('q', (n, ack) => (n === 2 ? ack(Buffer.from([n])) : ack(tag, n, 'sep\x1e|', { n })));
    io.on('connection', answer('root'));
    io.of('/b').on('connection', answer('b'));
    const { c } = await h.connect(io, url, opts);
    const { c: other } = await h.connect(io, url, opts);
    const { c: inB } = await h.connect(io, url, opts, '/b');
    for (const client of [c, other, inB]) await settled(client, transport);
    /** Asks 0…3 at once (so that the server sees them in few batches); the answers as they arrived. */
    const ask = async (client) => {
      const arrived = [];
      await Promise.all(
        [0, 1, 2, 3].map(
          (n) =>
            new Promise((resolve) => {
              client.emit('q', n, (...args) => resolve(arrived.push([n, n === 2 ? [...args[0]] : args])));
            }),
        ),
      );
      return arrived;
    };
    const [mine, theirs, fromB] = await Promise.all([ask(c), ask(other), ask(inB)]);
    for (const [tag, arrived] of [['root', mine], ['root', theirs], ['b', fromB]]) {
      expect(arrived).toEqual([
        [0, [tag, 0, 'sep\x1e|', { n: 0 }]],
        [1, [tag, 1, 'sep\x1e|', { n: 1 }]],
        [2, [2]],
        [3, [tag, 3, 'sep\x1e|', { n: 3 }]],
      ]);
    }
  });

  test('an ack made after its handler returned goes out at once', async () => {
    const { c, s } = await pair();
    s.on('later', async (ack) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      ack('late');
    });
    await expect(c.emitWithAck('later')).resolves.toBe('late');
  });

  test('events emitted by the client before the server listens are not lost on the next ones', async () => {
    const { c, s } = await pair();
    c.emit('unheard', 1);
    s.on('heard', (ack) => ack('yes'));
    await expect(c.emitWithAck('heard')).resolves.toBe('yes');
  });
});

describe('socket in a namespace', () => {
  test('nsp is the namespace; emits stay in it', async () => {
    const { io, url } = h.server();
    const admin = io.of('/admin');
    const { c, s } = await h.connect(io, url, TRANSPORTS.websocket, '/admin');
    expect(s.nsp).toBe(admin);
    expect(s.nsp.name).toBe('/admin');
    const got = once(c, 'hello');
    s.emit('hello', 'admin');
    expect(await got).toBe('admin');
  });

  test('conn emits "upgrade" with the websocket transport', async () => {
    const { io, url } = h.server();
    const upgraded = new Promise((resolve) => io.on('connection', (s) => s.conn.on('upgrade', resolve)));
    const { c, s } = await h.connect(io, url, TRANSPORTS.upgrade);
    const t = await upgraded;
    expect(t.name).toBe('websocket');
    await settled(c, 'upgrade');
    expect(s.conn.transport.name).toBe('websocket');
  });
});
