'use strict';

// The server the official socket.io-protocol test suite (test-suite/ in socketio/socket.io-protocol)
// expects: port 3000, short heartbeats, `/custom` namespace, `message-back` and `message-with-ack`.
const { Server } = require('..');

const io = new Server(Number(process.env.PORT) || 3000, {
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
  connectTimeout: 1000,
});

io.on('connection', (socket) => {
  socket.emit('auth', socket.handshake.auth);
  socket.on('message', (...args) => socket.emit('message-back', ...args));
  socket.on('message-with-ack', (...args) => {
    const ack = args.pop();
    ack(...args);
  });
});

io.of('/custom').on('connection', (socket) => {
  socket.emit('auth', socket.handshake.auth);
});

console.log(`protocol suite server listening on http://localhost:${io.port}`);
