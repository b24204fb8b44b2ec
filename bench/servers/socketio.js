'use strict';
// Reference server: socket.io 4.8 (devDependency) with the benchmark behaviour.
const { Server } = require('socket.io');

const port = Number(process.env.PORT ?? 3000);
const io = new Server(port);
io.on('connection', (socket) => {
  socket.on('bcast', (payload) => io.emit('msg', payload));
  socket.on('echo', (payload, ack) => ack(payload));
});
io.httpServer.on('listening', () => console.log(`listening ${io.httpServer.address().port}`));
process.on('SIGTERM', () => process.exit(0));
