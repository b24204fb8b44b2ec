'use strict';

const { Server, Engine } = require('./server');
const { Namespace } = require('./namespace');
const { Socket } = require('./socket');
const { BroadcastOperator } = require('./broadcast-operator');
const { compose } = require('./egg/compose');
const { createAdapter } = require('./redis-adapter');

/** `require('socket.io-native')(srv, opts)`, as with socket.io. */
function createServer(srv, opts) {
  return new Server(srv, opts);
}

module.exports = Object.assign(createServer, {
  Server,
  Engine,
  Namespace,
  Socket,
  BroadcastOperator,
  compose,
  createAdapter,
  default: createServer,
});
