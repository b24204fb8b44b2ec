'use strict';
// socket.io-native through its socket.io-compatible API: the same code as socketio.js.
const { Server } = require('../..');

const port = Number(process.env.PORT ?? 3000);
const io = new Server(port);
io.on('connection', (socket) => {
  socket.on('bcast', (payload) => io.emit('msg', payload));
  socket.on('echo', (payload, ack) => ack(payload));
});
console.log(`listening ${io.port}`);
process.on('SIGTERM', () => process.exit(0));
