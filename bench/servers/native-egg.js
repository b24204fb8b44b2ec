'use strict';
// socket.io-native through its egg-style API: routes get a ctx whose args end with the ack,
// as egg-socket.io controllers do.
const { Server } = require('../..');

const port = Number(process.env.PORT ?? 3000);
const io = new Server(port);
io.route('bcast', (ctx) => {
  io.emit('msg', ctx.args[0]);
});
io.route('echo', (ctx) => {
  const ack = ctx.args[ctx.args.length - 1];
  ack(ctx.args[0]);
});
console.log(`listening ${io.port}`);
process.on('SIGTERM', () => process.exit(0));
