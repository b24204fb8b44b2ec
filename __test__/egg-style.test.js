'use strict';

// The egg-style model (egg-socket.io): `namespace` config with koa-style connection and packet
// middleware, `route(event, handler)`, ctx, system routes, createContext, error logging.

const { TRANSPORTS, startServer, client, once, until, settled } = require('./helpers');

/** A logger that records what it is given, to assert on instead of printing. */
function recordingLogger() {
  const errors = [];
  const record = (...args) => errors.push(args);
  return { errors, error: record, warn: record, info() {}, debug() {}, log() {} };
}

/** A promise with its resolve function outside, for handlers the test lets finish. */
function deferred() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe.each(Object.keys(TRANSPORTS))('egg-style over %s', (transport) => {
  const clientOpts = TRANSPORTS[transport];
  let server;
  let sockets;

  function connectClient(nsp = '/', opts = {}) {
    const socket = client(server.url + nsp, { ...clientOpts, ...opts });
    sockets.push(socket);
    return socket;
  }

  async function connected(socket) {
    await once(socket, 'connect');
    await settled(socket, transport);
    return socket;
  }

  beforeEach(() => {
    sockets = [];
    server = undefined;
  });

  afterEach(() => {
    for (const socket of sockets) socket.disconnect();
    if (server) server.io.close();
  });

  test('middleware and route run in order: connect, packet, handler, after-next, disconnect', async () => {
    const log = [];
    const handlerMayFinish = deferred();
    server = startServer({
      namespace: {
        '/': {
          connectionMiddleware: [
            async (ctx, next) => {
              log.push('conn:before');
              ctx.socket.join('lobby');
              ctx.socket.emit('welcome', ctx.socket.id);
              await next();
              log.push(`conn:after:${ctx.args[0]}`);
            },
          ],
          packetMiddleware: [
            async (ctx, next) => {
              log.push(`packet:before:${ctx.packet[0]}`);
              await next();
              log.push(`packet:after:${ctx.packet[0]}`);
            },
          ],
        },
      },
    });
    let routeCtx;
    let routeThis;
    server.io.route('chat', async function (ctx) {
      routeThis = this;
      routeCtx = ctx;
      log.push(`route:start:${ctx.args[0]}`);
      await handlerMayFinish.promise;
      log.push('route:end');
    });

    const socket = connectClient();
    const welcome = once(socket, 'welcome');
    await connected(socket);
    // Emitted during the connection middleware, before the socket was admitted.
    await expect(welcome).resolves.toBe(socket.id);
    expect(log).toEqual(['conn:before']);

    // Joined during the connection middleware: room broadcasts reach it.
    const inLobby = once(socket, 'lobby-news');
    server.io.to('lobby').emit('lobby-news', 1);
    await expect(inLobby).resolves.toBe(1);
    expect(server.io.of('/').sockets.get(socket.id).rooms).toEqual(new Set([socket.id, 'lobby']));

    socket.emit('chat', 'hi');
    await until(() => log.includes('route:start:hi'));
    // The handler has not settled: the packet middleware waits for it.
    expect(log).toEqual(['conn:before', 'packet:before:chat', 'route:start:hi']);
    handlerMayFinish.resolve();
    await until(() => log.includes('packet:after:chat'));
    expect(log).toEqual(['conn:before', 'packet:before:chat', 'route:start:hi', 'route:end', 'packet:after:chat']);

    expect(routeThis).toBe(routeCtx);
    expect(routeCtx.socket.id).toBe(socket.id);
    expect(routeCtx.packet).toEqual(['chat', 'hi']);
    expect(routeCtx.args).toEqual(['hi']);
    expect(routeCtx.app).toBe(server.io);
    expect(routeCtx.io).toBe(server.io);
    expect(routeCtx.nsp).toBe(server.io.of('/'));

    socket.disconnect();
    await until(() => log.length === 6);
    expect(log[5]).toBe('conn:after:client namespace disconnect');
  });

  test('a chain that returns without next() still admits the socket', async () => {
    const log = [];
    server = startServer({
      namespace: {
        '/': {
          connectionMiddleware: [
            async (ctx) => {
              log.push('conn:no-next');
            },
          ],
        },
      },
    });
    server.io.route('ping', (ctx) => ctx.args[ctx.args.length - 1]('pong'));
    const socket = await connected(connectClient());
    expect(log).toEqual(['conn:no-next']);
    await expect(socket.emitWithAck('ping')).resolves.toBe('pong');
    expect(server.io.of('/').sockets.size).toBe(1);
  });

  test('a connection middleware that throws refuses the socket: connect_error', async () => {
    const log = [];
    const connections = [];
    server = startServer({
      namespace: {
        '/': {
          connectionMiddleware: [
            async (ctx, next) => {
              log.push('conn:before');
              const err = new Error('not allowed');
              err.data = { code: 'E_AUTH' };
              throw err;
              // eslint-disable-next-line no-unreachable
              await next();
            },
          ],
        },
      },
    });
    server.io.on('connection', (s) => connections.push(s));
    const socket = connectClient();
    const err = await once(socket, 'connect_error');
    expect(err.message).toBe('not allowed');
    expect(err.data).toEqual({ code: 'E_AUTH' });
    expect(socket.connected).toBe(false);
    expect(log).toEqual(['conn:before']);
    expect(connections).toEqual([]);
    expect(server.io.of('/').sockets.size).toBe(0);
  });

  test('a connection middleware that calls ctx.socket.disconnect() refuses the socket', async () => {
    const log = [];
    const connections = [];
    server = startServer({
      namespace: {
        '/': {
          connectionMiddleware: [
            async (ctx, next) => {
              log.push('conn:before');
              ctx.socket.disconnect();
              await next();
              log.push('conn:after');
            },
          ],
        },
      },
    });
    server.io.on('connection', (s) => connections.push(s));
    const socket = connectClient();
    const events = [];
    socket.on('connect', () => events.push('connect'));
    socket.on('connect_error', (e) => events.push(`connect_error:${e.message}`));
    const [reason] = await once(socket, 'disconnect');
    expect(reason).toBe('io server disconnect');
    expect(events).toEqual([]);
    expect(log[0]).toBe('conn:before');
    expect(connections).toEqual([]);
    expect(server.io.of('/').sockets.size).toBe(0);
  });

  test('the client ack function is the last element of ctx.args', async () => {
    server = startServer();
    const seen = [];
    server.io.route('sum', async (ctx) => {
      const ack = ctx.args[ctx.args.length - 1];
      seen.push(typeof ack, ctx.packet.length);
      ack(ctx.args[0] + ctx.args[1]);
    });
    const socket = await connected(connectClient());
    await expect(socket.emitWithAck('sum', 2, 3)).resolves.toBe(5);
    expect(seen).toEqual(['function', 4]);
  });

  test('a packet middleware that returns without next() drops the packet', async () => {
    const routed = [];
    const listened = [];
    server = startServer({
      namespace: {
        '/': {
          packetMiddleware: [
            (ctx, next) => {
              if (ctx.packet[0] === 'secret') return undefined;
              return next();
            },
          ],
        },
      },
    });
    server.io.on('connection', (s) => s.on('secret', () => listened.push('secret')));
    server.io.route('secret', () => routed.push('secret'));
    server.io.route('open', (ctx) => {
      routed.push('open');
      ctx.args[ctx.args.length - 1]('ok');
    });
    const socket = await connected(connectClient());
    socket.emit('secret', 'x');
    // Packets of one socket are handled in order: once `open` is answered, `secret` was dropped.
    await expect(socket.emitWithAck('open')).resolves.toBe('ok');
    expect(routed).toEqual(['open']);
    expect(listened).toEqual([]);
  });

  test('a handler that throws or rejects is logged; the socket stays connected', async () => {
    const logger = recordingLogger();
    server = startServer({ logger });
    const disconnects = [];
    server.io.on('connection', (s) => s.on('disconnect', (r) => disconnects.push(r)));
    server.io.route('throws', () => {
      throw new Error('sync boom');
    });
    server.io.route('rejects', async () => {
      throw new Error('async boom');
    });
    server.io.route('ping', (ctx) => ctx.args[ctx.args.length - 1]('pong'));
    const socket = await connected(connectClient());
    socket.emit('throws');
    socket.emit('rejects');
    await until(() => logger.errors.length === 2);
    const messages = logger.errors.map((args) => args.find((a) => a instanceof Error).message);
    expect(messages.sort()).toEqual(['async boom', 'sync boom']);
    await expect(socket.emitWithAck('ping')).resolves.toBe('pong');
    expect(socket.connected).toBe(true);
    expect(server.io.of('/').sockets.size).toBe(1);
    expect(disconnects).toEqual([]);
  });

  test('a packet middleware that throws is logged; the socket stays connected', async () => {
    const logger = recordingLogger();
    const routed = [];
    server = startServer({
      logger,
      namespace: {
        '/': {
          packetMiddleware: [
            async (ctx, next) => {
              if (ctx.packet[0] === 'bad') throw new Error('middleware boom');
              await next();
            },
          ],
        },
      },
    });
    server.io.route('bad', () => routed.push('bad'));
    server.io.route('ping', (ctx) => ctx.args[ctx.args.length - 1]('pong'));
    const socket = await connected(connectClient());
    socket.emit('bad');
    await until(() => logger.errors.length === 1);
    expect(logger.errors[0].find((a) => a instanceof Error).message).toBe('middleware boom');
    await expect(socket.emitWithAck('ping')).resolves.toBe('pong');
    expect(routed).toEqual([]);
    expect(socket.connected).toBe(true);
  });

  test('createContext supplies the ctx of middleware and routes', async () => {
    const made = [];
    const log = [];
    server = startServer({
      createContext(socket, packet) {
        made.push(packet ? packet[0] : 'connection');
        return { custom: true, requestUrl: socket.request.url };
      },
      namespace: {
        '/': {
          connectionMiddleware: [
            async (ctx, next) => {
              log.push(['conn', ctx.custom, ctx.socket.id, ctx.packet]);
              await next();
            },
          ],
          packetMiddleware: [
            async (ctx, next) => {
              log.push(['packet', ctx.custom, ctx.packet]);
              await next();
            },
          ],
        },
      },
    });
    server.io.route('hello', function (ctx) {
      log.push(['route', this === ctx, ctx.custom, ctx.socket.id, ctx.args.slice(0, -1)]);
      expect(ctx.requestUrl).toMatch(/^\/socket\.io\/\?/);
      ctx.args[ctx.args.length - 1]('done');
    });
    const socket = await connected(connectClient());
    await expect(socket.emitWithAck('hello', 'a')).resolves.toBe('done');
    expect(made).toEqual(['connection', 'hello']);
    expect(log).toEqual([
      ['conn', true, socket.id, undefined],
      ['packet', true, ['hello', 'a', expect.any(Function)]],
      ['route', true, true, socket.id, ['a']],
    ]);
  });

  test('egg config on a non-root namespace applies there only', async () => {
    const log = [];
    server = startServer({
      namespace: {
        '/example': {
          connectionMiddleware: [
            async (ctx, next) => {
              log.push(`conn:${ctx.nsp.name}`);
              await next();
              log.push(`conn:after:${ctx.nsp.name}:${ctx.args[0]}`);
            },
          ],
          packetMiddleware: [
            async (ctx, next) => {
              log.push(`packet:${ctx.nsp.name}:${ctx.packet[0]}`);
              await next();
            },
          ],
        },
      },
    });
    server.io.of('/example').route('echo', (ctx) => {
      log.push(`route:${ctx.nsp.name}`);
      ctx.args[ctx.args.length - 1](ctx.args[0]);
    });
    server.io.route('echo', (ctx) => {
      log.push(`route:${ctx.nsp.name}`);
      ctx.args[ctx.args.length - 1](ctx.args[0]);
    });

    const root = await connected(connectClient('/'));
    await expect(root.emitWithAck('echo', 'r')).resolves.toBe('r');
    expect(log).toEqual(['route:/']);

    const example = await connected(connectClient('/example'));
    await expect(example.emitWithAck('echo', 'e')).resolves.toBe('e');
    expect(log).toEqual(['route:/', 'conn:/example', 'packet:/example:echo', 'route:/example']);

    example.disconnect();
    await until(() => log.length === 5);
    expect(log[4]).toBe('conn:after:/example:client namespace disconnect');
  });

  test('routes on disconnect and disconnecting are system events, called with the reason', async () => {
    const log = [];
    server = startServer();
    server.io.route('disconnecting', function (ctx) {
      log.push(['disconnecting', this === ctx, ctx.socket.id, ctx.args]);
    });
    server.io.route('disconnect', async (ctx) => {
      log.push(['disconnect', ctx.socket.id, ctx.args]);
    });
    const socket = await connected(connectClient());
    const id = socket.id;
    socket.disconnect();
    await until(() => log.length === 2);
    expect(log).toEqual([
      ['disconnecting', true, id, ['client namespace disconnect']],
      ['disconnect', id, ['client namespace disconnect']],
    ]);
  });

  test('system routes see a server-side disconnect too', async () => {
    const log = [];
    server = startServer();
    server.io.route('disconnect', (ctx) => log.push(ctx.args[0]));
    server.io.route('kick', (ctx) => ctx.socket.disconnect());
    const socket = await connected(connectClient());
    const gone = once(socket, 'disconnect');
    socket.emit('kick');
    const [reason] = await gone;
    expect(reason).toBe('io server disconnect');
    await until(() => log.length === 1);
    expect(log).toEqual(['server namespace disconnect']);
  });

  test('a route on error is a system event: called with ctx.args from the socket error event', async () => {
    const log = [];
    server = startServer();
    server.io.route('error', (ctx) => {
      log.push(ctx.args);
    });
    server.io.route('ping', (ctx) => ctx.args[ctx.args.length - 1]('pong'));
    const socket = await connected(connectClient());
    // socket.io 4 delivers an event named "error" from the client to the socket's "error"
    // listeners; the system route hears it as one.
    socket.emit('error', 'client side trouble');
    await expect(socket.emitWithAck('ping')).resolves.toBe('pong');
    expect(log).toEqual([['client side trouble']]);
  });

  test('a disconnect route that throws is logged and does not stop the server', async () => {
    const logger = recordingLogger();
    server = startServer({ logger });
    server.io.route('disconnect', async () => {
      throw new Error('disconnect boom');
    });
    server.io.route('ping', (ctx) => ctx.args[ctx.args.length - 1]('pong'));
    const first = await connected(connectClient());
    first.disconnect();
    await until(() => logger.errors.length === 1);
    expect(logger.errors[0].find((a) => a instanceof Error).message).toBe('disconnect boom');
    const second = await connected(connectClient());
    await expect(second.emitWithAck('ping')).resolves.toBe('pong');
  });
});
