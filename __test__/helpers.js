'use strict';

const http = require('http');
const { io: connect } = require('socket.io-client');
const { Server } = require('..');

/** The three ways a socket.io-client reaches us; most behaviour is tested over each. */
const TRANSPORTS = {
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'], upgrade: false },
  upgrade: { transports: ['polling', 'websocket'] },
};

/** Starts a server on its own free port. */
function startServer(opts = {}) {
  const io = new Server(0, opts);
  return { io, port: io.port, url: `http://127.0.0.1:${io.port}` };
}

/** Starts a Node http.Server with an app route and attaches a server to it. */
async function startAttached(opts = {}, appHandler) {
  const httpServer = http.createServer(
    appHandler ||
      ((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('app route');
      }),
  );
  const io = new Server(httpServer, opts);
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const port = httpServer.address().port;
  return { io, httpServer, port, url: `http://127.0.0.1:${port}` };
}

/** A socket.io-client 4 socket that does not reconnect (tests decide what happens). */
function client(url, opts = {}) {
  return connect(url, { reconnection: false, forceNew: true, ...opts });
}

function once(emitter, event, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${event}"`)), timeoutMs);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args.length > 1 ? args : args[0]);
    });
  });
}

/** Resolves once `predicate()` is true, polling every 10 ms. */
async function until(predicate, timeoutMs = 5000) {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await sleep(10);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until the client has switched to websocket (for the `upgrade` transport case). */
async function settled(socket, transportName) {
  if (transportName !== 'upgrade') return;
  await until(() => socket.io.engine && socket.io.engine.transport.name === 'websocket');
}

/**
 * A server and socket.io-clients over one transport for each test of a `describe`, torn down
 * after each test (clients first, then the server, which is closed even if waiting fails).
 * @param {keyof typeof TRANSPORTS} transport
 */
function clientScope(transport) {
  const scope = {
    server: undefined,
    clients: [],
    start(opts) {
      scope.server = startServer(opts);
      return scope.server;
    },
    /** A connected client `c` and its server-side socket `s`. */
    async connect(opts = {}) {
      const serverSide = once(scope.server.io.sockets, 'connection');
      const c = client(scope.server.url, { ...TRANSPORTS[transport], ...opts });
      scope.clients.push(c);
      await once(c, 'connect');
      await settled(c, transport);
      return { c, s: await serverSide };
    },
  };
  afterEach(async () => {
    for (const c of scope.clients.splice(0)) c.disconnect();
    const server = scope.server;
    scope.server = undefined;
    if (!server) return;
    try {
      await until(() => server.io.engine.clientsCount === 0);
    } finally {
      server.io.close();
    }
  });
  return scope;
}

module.exports = { TRANSPORTS, startServer, startAttached, client, clientScope, once, until, sleep, settled };
