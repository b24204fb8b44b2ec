'use strict';

// Sharing a Node http.Server: the app's own routes keep working on the same port; socket.io
// under `path` is served by Rust (websocket handed over as a descriptor, polling via Node's
// parser); connections injected with `server.emit('connection', conn)` (Egg's sticky cluster).

const http = require('http');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const WebSocket = require('ws');
const { Server } = require('..');
const { TRANSPORTS, startAttached, client, once, until, settled } = require('./helpers');

/** A real HTTP GET; resolves with status and body. */
function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      })
      .on('error', reject);
  });
}

function appHandler(req, res) {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(`app route ${req.method} ${req.url}`);
}

function listen(server, port = 0) {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server.address().port)));
}

/** Echo with an ack, and the transport the server sees, for every connection. */
function echoServer(io) {
  io.on('connection', (socket) => {
    socket.on('echo', (msg, ack) => ack(msg));
    socket.on('bytes', (buf, ack) => ack(Buffer.concat([buf, Buffer.from([0xff])])));
    socket.on('transport', (ack) => ack(socket.conn.transport.name));
  });
}

/**
 * Disconnects clients and waits until the server has closed their sessions, so no request of
 * theirs is still on its way when the test closes the server.
 */
async function disconnectAll(io, sockets) {
  for (const socket of sockets) socket.disconnect();
  await until(() => io.engine.clientsCount === 0);
}

async function roundTrip(io, url, transport, nsp = '/') {
  const socket = client(url + nsp, TRANSPORTS[transport]);
  try {
    await once(socket, 'connect');
    await settled(socket, transport);
    await expect(socket.emitWithAck('echo', { hello: [1, 'x'] })).resolves.toEqual({ hello: [1, 'x'] });
    const expected = transport === 'polling' ? 'polling' : 'websocket';
    expect(socket.io.engine.transport.name).toBe(expected);
    await expect(socket.emitWithAck('transport')).resolves.toBe(expected);
    const bytes = await socket.emitWithAck('bytes', Buffer.from([1, 2, 3]));
    expect(Buffer.from(bytes)).toEqual(Buffer.from([1, 2, 3, 0xff]));
  } finally {
    await disconnectAll(io, [socket]);
  }
}

describe('attached to an http.Server', () => {
  let attached;

  afterEach(async () => {
    if (attached) await new Promise((resolve) => attached.io.close(() => resolve()));
    attached = undefined;
  });

  test('the app route still answers on the same port', async () => {
    attached = await startAttached({}, appHandler);
    echoServer(attached.io);
    await expect(get(`${attached.url}/hello?x=1`)).resolves.toEqual({ status: 200, body: 'app route GET /hello?x=1' });
    // A path that only starts like the engine path is the app's too.
    await expect(get(`${attached.url}/socket.iox/`)).resolves.toEqual({ status: 200, body: 'app route GET /socket.iox/' });
    // Under the engine path, the engine answers (a bad request here: no EIO).
    const engine = await get(`${attached.url}/socket.io/?transport=polling`);
    expect(engine.status).toBe(400);
  });

  test.each(Object.keys(TRANSPORTS))('socket.io over %s on the shared port, app route too', async (transport) => {
    attached = await startAttached({}, appHandler);
    echoServer(attached.io);
    await roundTrip(attached.io, attached.url, transport);
    await expect(get(`${attached.url}/after`)).resolves.toEqual({ status: 200, body: 'app route GET /after' });
  });

  test.each(Object.keys(TRANSPORTS))('io.attach(httpServer) with a custom path, over %s', async (transport) => {
    const httpServer = http.createServer(appHandler);
    const io = new Server({ path: '/rt' });
    io.attach(httpServer);
    attached = { io, httpServer };
    echoServer(io);
    const port = await listen(httpServer);
    const url = `http://127.0.0.1:${port}`;
    const socket = client(url, { ...TRANSPORTS[transport], path: '/rt' });
    try {
      await once(socket, 'connect');
      await settled(socket, transport);
      await expect(socket.emitWithAck('echo', 'via attach')).resolves.toBe('via attach');
    } finally {
      await disconnectAll(io, [socket]);
    }
    // The default path is the app's now.
    await expect(get(`${url}/socket.io/`)).resolves.toEqual({ status: 200, body: 'app route GET /socket.io/' });
  });

  test("the app's own websocket upgrades on other paths keep working", async () => {
    attached = await startAttached({}, appHandler);
    echoServer(attached.io);
    const wss = new WebSocket.Server({ noServer: true });
    attached.httpServer.on('upgrade', (req, socket, head) => {
      if (req.url !== '/app-ws') return;
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(`app: ${data}`)));
    });
    const ws = new WebSocket(`ws://127.0.0.1:${attached.port}/app-ws`);
    try {
      await once(ws, 'open');
      ws.send('hi');
      const [data] = await once(ws, 'message');
      expect(String(data)).toBe('app: hi');
      await roundTrip(attached.io, attached.url, 'websocket');
    } finally {
      // An open app connection would hold the http.Server's close() up.
      ws.terminate();
      wss.close();
    }
  });

  test('namespaces and rooms work across transports on the shared port', async () => {
    attached = await startAttached({}, appHandler);
    attached.io.of('/room').on('connection', (socket) => socket.join('r'));
    const sockets = Object.keys(TRANSPORTS).map((t) => client(`${attached.url}/room`, TRANSPORTS[t]));
    try {
      await Promise.all(sockets.map((s) => once(s, 'connect')));
      await until(() => attached.io.of('/room').sockets.size === 3);
      const got = sockets.map((s) => once(s, 'news'));
      attached.io.of('/room').to('r').emit('news', 'for all');
      await expect(Promise.all(got)).resolves.toEqual(['for all', 'for all', 'for all']);
    } finally {
      await disconnectAll(attached.io, sockets);
    }
  });

  test.each(Object.keys(TRANSPORTS))('close() disconnects %s clients and closes the http.Server', async (transport) => {
    attached = await startAttached({}, appHandler);
    echoServer(attached.io);
    const { io, httpServer, url } = attached;
    attached = undefined;
    const socket = client(url, TRANSPORTS[transport]);
    await once(socket, 'connect');
    await settled(socket, transport);
    const gone = once(socket, 'disconnect');
    await new Promise((resolve) => io.close(() => resolve()));
    expect(httpServer.listening).toBe(false);
    await gone;
    expect(socket.connected).toBe(false);
    await expect(get(`${url}/`)).rejects.toThrow(/ECONNREFUSED/);
    socket.disconnect();
  });
});

describe('connections injected with httpServer.emit("connection") (sticky cluster)', () => {
  let io;
  let front;
  let url;

  beforeEach(async () => {
    // The http.Server never listens; a separate net.Server accepts and hands over raw sockets,
    // as egg-cluster's sticky master and worker do (paused on accept, resumed after hand-over).
    const httpServer = http.createServer(appHandler);
    io = new Server(httpServer);
    echoServer(io);
    front = net.createServer({ pauseOnConnect: true }, (conn) => {
      httpServer.emit('connection', conn);
      conn.resume();
    });
    const port = await listen(front);
    url = `http://127.0.0.1:${port}`;
    expect(httpServer.listening).toBe(false);
  });

  afterEach(async () => {
    io.close();
    await new Promise((resolve) => front.close(() => resolve()));
  });

  test.each(Object.keys(TRANSPORTS))('socket.io over %s through the net.Server', async (transport) => {
    await roundTrip(io, url, transport);
  });

  test('the app route works through the net.Server', async () => {
    await expect(get(`${url}/app`)).resolves.toEqual({ status: 200, body: 'app route GET /app' });
  });

  test('a broadcast reaches clients on every transport', async () => {
    io.on('connection', (socket) => socket.join('all'));
    const sockets = Object.keys(TRANSPORTS).map((t) => client(url, TRANSPORTS[t]));
    try {
      await Promise.all(sockets.map((s) => once(s, 'connect')));
      await until(() => io.engine.clientsCount === 3);
      const got = sockets.map((s) => once(s, 'news'));
      io.to('all').emit('news', 42);
      await expect(Promise.all(got)).resolves.toEqual([42, 42, 42]);
    } finally {
      await disconnectAll(io, sockets);
    }
  });
});

// The worker side of egg-cluster's sticky mode, in its own process: an http.Server that never
// listens, fed the connections its master accepts (sent over IPC, as egg-cluster does).
const WORKER = `
const http = require('http');
const { Server } = require(${JSON.stringify(path.join(__dirname, '..'))});
const httpServer = http.createServer((req, res) => res.end('worker ' + process.pid + ' ' + req.url));
const io = new Server(httpServer);
io.on('connection', (socket) => {
  socket.on('echo', (msg, ack) => ack(msg));
  socket.on('pid', (ack) => ack(process.pid));
});
process.on('message', (message, connection) => {
  if (message === 'sticky-session:connection') {
    httpServer.emit('connection', connection);
    connection.resume();
  } else if (message === 'close') {
    io.close();
    process.disconnect();
  }
});
process.send('ready');
`;

describe('sticky cluster across processes (connections sent to a worker over IPC)', () => {
  let worker;
  let master;
  let url;

  beforeAll(async () => {
    worker = spawn(process.execPath, ['-e', WORKER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await once(worker, 'message');
    master = net.createServer({ pauseOnConnect: true }, (conn) => worker.send('sticky-session:connection', conn));
    url = `http://127.0.0.1:${await listen(master)}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => master.close(() => resolve()));
    const exited = once(worker, 'exit');
    worker.send('close');
    await exited;
  });

  test('the app route is answered by the worker', async () => {
    await expect(get(`${url}/x`)).resolves.toEqual({ status: 200, body: `worker ${worker.pid} /x` });
  });

  test.each(Object.keys(TRANSPORTS))('socket.io over %s is served by the worker', async (transport) => {
    const socket = client(url, TRANSPORTS[transport]);
    try {
      await once(socket, 'connect');
      await settled(socket, transport);
      await expect(socket.emitWithAck('pid')).resolves.toBe(worker.pid);
      await expect(socket.emitWithAck('echo', ['sticky', 1])).resolves.toEqual(['sticky', 1]);
      expect(socket.io.engine.transport.name).toBe(transport === 'polling' ? 'polling' : 'websocket');
    } finally {
      const gone = once(socket, 'disconnect');
      socket.disconnect();
      await gone;
    }
  });
});
