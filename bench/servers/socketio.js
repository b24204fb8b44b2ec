'use strict';
// Reference server: socket.io 4.8 (devDependency) with the benchmark behaviour. With REDIS_PORT
// set, it is one node of a cluster on that Redis, through @socket.io/redis-adapter 8.
const { Server } = require('socket.io');

const port = Number(process.env.PORT ?? 3000);
const redisPort = process.env.REDIS_PORT;

async function adapter() {
  if (!redisPort) return {};
  const { createClient } = require('redis');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const pub = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  return { adapter: createAdapter(pub, sub) };
}

adapter().then((opts) => {
  const io = new Server(port, opts);
  io.on('connection', (socket) => {
    socket.on('bcast', (payload) => io.emit('msg', payload));
    socket.on('echo', (payload, ack) => ack(payload));
  });
  // The adapter subscribes as the namespace is made; one NUMSUB round trip later it is in place.
  const ready = redisPort ? io.of('/').adapter.serverCount() : Promise.resolve();
  const listening = new Promise((resolve) => io.httpServer.on('listening', resolve));
  Promise.all([ready, listening]).then(() => console.log(`listening ${io.httpServer.address().port}`));
});
process.on('SIGTERM', () => process.exit(0));
