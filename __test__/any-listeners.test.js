'use strict';

// socket.use, onAny / prependAny / offAny / listenersAny and the outgoing family, as socket.io 4.8
// defines them, observed through real clients.

const { TRANSPORTS, clientScope, once, until } = require('./helpers');

describe.each(Object.keys(TRANSPORTS))('over %s', (transport) => {
  const scope = clientScope(transport);
  let server;
  const connected = () => scope.connect();

  beforeEach(() => {
    server = scope.start();
  });

  test('onAny sees every event with its arguments and the ack, before the middleware; order and removal', async () => {
    const { c, s } = await connected();
    const log = [];
    const first = (...args) => log.push(['first', args[0], typeof args[args.length - 1]]);
    const second = (event, ...args) => log.push(['second', event, ...args.filter((a) => typeof a !== 'function')]);
    s.onAny(second);
    s.prependAny(first);
    s.use(([event], next) => {
      log.push(['middleware', event]);
      next();
    });
    s.on('hello', (x, ack) => ack(x * 2));
    expect(s.listenersAny()).toEqual([first, second]);
    await expect(c.emitWithAck('hello', 21)).resolves.toBe(42);
    expect(log).toEqual([
      ['first', 'hello', 'function'],
      ['second', 'hello', 21],
      ['middleware', 'hello'],
    ]);
    s.offAny(first);
    expect(s.listenersAny()).toEqual([second]);
    s.offAny();
    expect(s.listenersAny()).toEqual([]);
  });

  test('socket.use: a rejected event becomes the socket error and never reaches its listener', async () => {
    const { c, s } = await connected();
    const seen = [];
    s.use(([event, ...args], next) => (event === 'forbidden' ? next(new Error('unauthorized event')) : next()));
    s.use((packet, next) => {
      packet.push('added by middleware');
      next();
    });
    s.on('forbidden', () => seen.push('forbidden'));
    s.on('allowed', (...args) => seen.push(['allowed', ...args]));
    const error = once(s, 'error');
    c.emit('forbidden', 1);
    expect((await error).message).toBe('unauthorized event');
    c.emit('allowed', 2);
    await until(() => seen.length === 1);
    expect(seen).toEqual([['allowed', 2, 'added by middleware']]);
    expect(s.connected).toBe(true);
  });

  test('a rejected event on a socket without an error listener is dropped, the server keeps going', async () => {
    const { c, s } = await connected();
    let reached = false;
    s.use((packet, next) => next(new Error('nope')));
    s.on('anything', () => (reached = true));
    c.emit('anything');
    const { c: other, s: otherServerSide } = await connected();
    otherServerSide.on('echo', (x, ack) => ack(x));
    await expect(other.emitWithAck('echo', 'still up')).resolves.toBe('still up');
    expect(reached).toBe(false);
    expect(s.connected).toBe(true);
  });

  test('onAnyOutgoing sees emits and the broadcasts that reach the socket, not acks', async () => {
    const { c, s } = await connected();
    const { s: other } = await connected();
    const out = [];
    const listener = (event, ...args) => out.push([event, ...args]);
    s.onAnyOutgoing(listener);
    s.on('ask', (ack) => ack('an ack is not an outgoing event'));
    other.join('elsewhere');
    s.emit('direct', 1);
    server.io.emit('to-all', 2);
    server.io.to('elsewhere').emit('not-to-s', 3);
    server.io.except(s.id).emit('excepting-s', 4);
    other.broadcast.emit('from-other', 5);
    await c.emitWithAck('ask');
    expect(out).toEqual([
      ['direct', 1],
      ['to-all', 2],
      ['from-other', 5],
    ]);
    expect(s.listenersAnyOutgoing()).toEqual([listener]);
    s.offAnyOutgoing(listener);
    s.emit('after-off', 6);
    expect(out).toHaveLength(3);
  });
});
