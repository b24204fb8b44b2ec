'use strict';

const { TRANSPORTS, once, settled } = require('./helpers');
const { harness, next } = require('./fixtures/api-harness');

let h;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.cleanup());

describe.each(Object.keys(TRANSPORTS))('middleware over %s', (transport) => {
  const opts = TRANSPORTS[transport];

  test('io.use runs in order, sync and async, before connection', async () => {
    const { io, url } = h.server();
    const order = [];
    io.use((socket, nextFn) => {
      order.push('sync');
      expect(socket.connected).toBe(false);
      socket.data.user = 'ann';
      nextFn();
    });
    io.use(async (socket, nextFn) => {
      await new Promise((resolve) => setImmediate(resolve));
      order.push('async');
      nextFn();
    });
    io.on('connection', (socket) => {
      order.push('connection');
      socket.emit('user', socket.data.user);
    });
    const c = h.client(url, opts);
    const [user] = await Promise.all([once(c, 'user'), once(c, 'connect')]);
    await settled(c, transport);
    expect(user).toBe('ann');
    expect(order).toEqual(['sync', 'async', 'connection']);
  });

  test('next(err) with err.data refuses: client connect_error with message and data', async () => {
    const { io, url } = h.server();
    let connections = 0;
    io.on('connection', () => connections++);
    io.use((socket, nextFn) => {
      const err = new Error('not authorized');
      err.data = { content: 'Please retry later', code: 401 };
      nextFn(err);
    });
    const c = h.client(url, opts);
    const err = await once(c, 'connect_error');
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('not authorized');
    expect(err.data).toEqual({ content: 'Please retry later', code: 401 });
    expect(c.connected).toBe(false);
    expect(connections).toBe(0);
    expect(io.sockets.sockets.size).toBe(0);
  });

  test('next(err) without data gives a connect_error without data', async () => {
    const { io, url } = h.server();
    io.use((socket, nextFn) => nextFn(new Error('nope')));
    const c = h.client(url, opts);
    const err = await once(c, 'connect_error');
    expect(err.message).toBe('nope');
    expect(err.data).toBeUndefined();
  });

  test('a throwing async middleware refuses the connection', async () => {
    const { io, url } = h.server();
    const later = jest.fn();
    io.use(async () => {
      await null;
      throw new Error('async boom');
    });
    io.use(later);
    const c = h.client(url, opts);
    const err = await once(c, 'connect_error');
    expect(err.message).toBe('async boom');
    expect(later).not.toHaveBeenCalled();
    expect(io.sockets.sockets.size).toBe(0);
  });

  test('an error stops the chain: later middleware does not run', async () => {
    const { io, url } = h.server();
    const later = jest.fn();
    io.use((socket, nextFn) => nextFn(new Error('first')));
    io.use(later);
    const c = h.client(url, opts);
    expect((await once(c, 'connect_error')).message).toBe('first');
    expect(later).not.toHaveBeenCalled();
  });

  test('emitting to the socket from middleware reaches the client after it connects', async () => {
    const { io, url } = h.server();
    io.use((socket, nextFn) => {
      socket.emit('early', 1);
      socket.emit('early', 2);
      nextFn();
    });
    const c = h.client(url, opts);
    const seen = [];
    const both = new Promise((resolve) => {
      c.on('early', (n) => {
        seen.push([n, c.connected]);
        if (seen.length === 2) resolve();
      });
    });
    await Promise.all([both, once(c, 'connect')]);
    expect(seen).toEqual([
      [1, true],
      [2, true],
    ]);
  });

  test('the handshake (auth, query, headers) is readable in middleware', async () => {
    const { io, url } = h.server();
    const seen = new Promise((resolve) => {
      io.use((socket, nextFn) => {
        resolve({ auth: socket.handshake.auth, query: socket.handshake.query, ua: socket.request.headers['x-test'] });
        nextFn();
      });
    });
    await h.connect(io, url, {
      ...opts,
      auth: { token: 't0k' },
      query: { room: 'r1' },
      extraHeaders: { 'x-test': 'yes' },
    });
    const { auth, query, ua } = await seen;
    expect(auth).toEqual({ token: 't0k' });
    expect(query.room).toBe('r1');
    expect(ua).toBe('yes');
  });
});

describe('namespace middleware', () => {
  test('nsp.use applies to its namespace only; io.use to "/" only', async () => {
    const { io, url } = h.server();
    const calls = [];
    io.use((socket, nextFn) => {
      calls.push(['main', socket.nsp.name]);
      nextFn();
    });
    io.of('/admin').use((socket, nextFn) => {
      calls.push(['admin', socket.nsp.name]);
      nextFn();
    });
    io.of('/free');
    await h.connect(io, url, TRANSPORTS.websocket, '/admin');
    await h.connect(io, url, TRANSPORTS.websocket, '/free');
    await h.connect(io, url, TRANSPORTS.websocket, '/');
    expect(calls).toEqual([
      ['admin', '/admin'],
      ['main', '/'],
    ]);
  });

  test('a refused namespace does not affect another namespace on the same connection', async () => {
    const { io, url } = h.server();
    io.of('/private').use((socket, nextFn) => nextFn(new Error('private')));
    const manager = h.manager(url, TRANSPORTS.websocket);
    const main = manager.socket('/');
    const priv = manager.socket('/private');
    const [err] = await Promise.all([once(priv, 'connect_error'), once(main, 'connect')]);
    expect(err.message).toBe('private');
    const s = io.sockets.sockets.get(main.id);
    s.on('ping', (ack) => ack('pong'));
    await expect(main.emitWithAck('ping')).resolves.toBe('pong');
  });

  test('middleware may be added after the first connection', async () => {
    const { io, url } = h.server();
    await h.connect(io, url, TRANSPORTS.websocket);
    io.use((socket, nextFn) => nextFn(new Error('closed now')));
    const c = h.client(url, TRANSPORTS.websocket);
    expect((await once(c, 'connect_error')).message).toBe('closed now');
  });

  test('the result of next() in a connection is visible to later handlers via socket.data', async () => {
    const { io, url } = h.server();
    io.of('/admin').use(async (socket, nextFn) => {
      socket.data.role = await Promise.resolve('admin');
      nextFn();
    });
    const connected = next(io.of('/admin'), 'connection');
    await h.connect(io, url, TRANSPORTS.polling, '/admin');
    const [socket] = await connected;
    expect(socket.data.role).toBe('admin');
  });
});
