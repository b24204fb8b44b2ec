'use strict';

/**
 * An egg-style chat: rooms from the handshake query, an `online` list announced on join and on
 * leave, and an `exchange` route that sends a message to one socket or to the whole room.
 * socket.io shares the port with a plain Node http.Server that serves the page.
 *
 *   npm start            → http://localhost:3000   (PORT=8080 npm start to change the port)
 */

const fs = require('fs');
const http = require('http');
const path = require('path');
const { Server } = require('../..');

const PORT = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);
const NSP = '/chat';

const page = path.join(__dirname, 'index.html');
const clientBundle = path.join(path.dirname(require.resolve('socket.io-client/package.json')), 'dist', 'socket.io.min.js');

/** The app's own routes: the page and the browser client bundle. */
function app(req, res) {
  const { pathname } = new URL(req.url, 'http://localhost');
  const file = pathname === '/' || pathname === '/index.html' ? page : pathname === '/socket.io.min.js' ? clientBundle : undefined;
  if (req.method !== 'GET' || !file) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
    return;
  }
  fs.readFile(file, (err, body) => {
    if (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('cannot read ' + path.basename(file));
      return;
    }
    res.writeHead(200, { 'Content-Type': file === page ? 'text/html; charset=utf-8' : 'application/javascript' });
    res.end(body);
  });
}

/** Who is in `room`: admitted sockets, plus `joining` (still in its connection middleware). */
async function online(nsp, room, joining) {
  const ids = await nsp.in(room).allSockets();
  const clients = [...ids].map((id) => ({ id, userId: nsp.sockets.get(id).data.userId }));
  if (joining && !ids.has(joining.id)) clients.push({ id: joining.id, userId: joining.data.userId });
  return clients;
}

/** Connection middleware: join the room at connect, announce the leave at disconnect. */
async function joinRoom(ctx, next) {
  const { socket, nsp } = ctx;
  const query = socket.handshake.query;
  const room = String(query.room || 'lobby');
  const userId = String(query.userId || socket.id);
  socket.data.room = room;
  socket.data.userId = userId;
  socket.join(room);

  const joined = { action: 'join', room, userId, clients: await online(nsp, room, socket) };
  // The joiner is still being admitted here, so it gets its copy directly.
  nsp.to(room).except(socket.id).emit('online', joined);
  socket.emit('online', joined);
  console.log(`[chat] ${userId} (${socket.id}) joined ${room}`);

  await next(); // resumes when the socket disconnects; ctx.args is [reason]

  nsp.to(room).emit('online', { action: 'leave', room, userId, clients: await online(nsp, room) });
  console.log(`[chat] ${userId} (${socket.id}) left ${room}: ${ctx.args[0]}`);
}

/** Packet middleware: an `exchange` must carry an object; anything else is dropped. */
async function validate(ctx, next) {
  const [event, message] = ctx.packet;
  if (event === 'exchange' && (message === null || typeof message !== 'object')) return;
  await next();
}

/** `exchange { target?, payload }`: to one socket of the room, or to everyone in it. */
async function exchange(ctx) {
  const { socket, nsp } = ctx;
  const [message] = ctx.args;
  const ack = typeof ctx.args[ctx.args.length - 1] === 'function' ? ctx.args[ctx.args.length - 1] : () => {};
  const room = socket.data.room;
  const target = message.target ? String(message.target) : null;
  const outgoing = { from: { id: socket.id, userId: socket.data.userId }, target, payload: message.payload };
  if (target) {
    const members = await nsp.in(room).allSockets();
    if (!members.has(target)) return ack({ ok: false, error: `no ${target} in ${room}` });
    nsp.to(target).emit('exchange', outgoing);
  } else {
    nsp.to(room).emit('exchange', outgoing);
  }
  ack({ ok: true });
}

function start(port = PORT) {
  const httpServer = http.createServer(app);
  const io = new Server(httpServer, {
    namespace: {
      [NSP]: { connectionMiddleware: [joinRoom], packetMiddleware: [validate] },
    },
  });
  io.of(NSP).route('exchange', exchange);
  return new Promise((resolve) => {
    httpServer.listen(port, () => resolve({ io, httpServer, port: httpServer.address().port }));
  });
}

if (require.main === module) {
  start().then(({ io, port }) => {
    console.log(`chat example on http://localhost:${port}`);
    const stop = () => {
      io.close(() => process.exit(0));
      // A browser's kept-alive connection must not hold the exit up.
      setTimeout(() => process.exit(0), 1000).unref();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

module.exports = { start };
