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

module.exports = { TRANSPORTS, startServer, startAttached, client, once, until, sleep, settled };
