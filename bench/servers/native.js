'use strict';
// socket.io-native through its socket.io-compatible API: the same code as socketio.js. With
// REDIS_PORT set, it is one node of a cluster on that Redis.
const { Server } = require('../..');

const port = Number(process.env.PORT ?? 3000);
const redisPort = process.env.REDIS_PORT;
const io = new Server(port, redisPort ? { redis: { port: Number(redisPort) } } : {});
io.on('connection', (socket) => {
  socket.on('bcast', (payload) => io.emit('msg', payload));
  socket.on('echo', (payload, ack) => ack(payload));
});

/** Ready once this node's own subscription counts among the cluster's servers. */
async function joined() {
  while (redisPort) {
    const count = await io.of('/').adapter.serverCount().catch(() => 0);
    if (count >= 1) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
joined().then(() => console.log(`listening ${io.port}`));
process.on('SIGTERM', () => process.exit(0));
