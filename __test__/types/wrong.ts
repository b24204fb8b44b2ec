// Compiled by __test__/types.test.js and expected to FAIL: every line marked `// error` must be
// reported by tsc (and no other line), which proves the typings reject wrong usage.

import { Server } from 'socket.io-native';

const io = new Server(0, { pingInterval: '25000' }); // error
new Server({ maxBufferedByte: 1024 }); // error
new Server({ transports: ['polling', 'flash'] }); // error
new Server({ namespace: { '/': { connectionMiddleware: ['auth'] } } }); // error
io.of('/chat').route('message', 42); // error
io.on('connection', (socket) => {
  socket.join(42); // error
  socket.disconnect('now'); // error
  const id: number = socket.id; // error
  socket.timeout('1s').emit('late'); // error
  socket.emit('ok', 1, 2, 3);
});
io.to('room').volatile.emit(); // error
const count: string = io.engine.clientsCount; // error
io.close(42); // error
void count;
