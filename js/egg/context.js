'use strict';

/**
 * The default egg-style context: a small plain object. An integration (the Egg plugin) passes
 * `createContext(socket, packet)` in the options to supply its own (a Koa context).
 * @param {import('../socket').Socket} socket
 * @param {unknown[]} [packet] `[event, ...args]` for packet middleware and routes
 */
class DefaultContext {
  constructor(socket, packet) {
    this.socket = socket;
    this.app = socket.server;
    this.io = socket.server;
    this.nsp = socket.nsp;
    this.packet = packet;
    this.args = packet ? packet.slice(1) : undefined;
  }

  get request() {
    return this.socket.request;
  }
}

function defaultContext(socket, packet) {
  return new DefaultContext(socket, packet);
}

function createContext(socket, packet) {
  const custom = socket.server.opts.createContext;
  if (typeof custom !== 'function') return defaultContext(socket, packet);
  const ctx = custom(socket, packet);
  ctx.socket = socket;
  if (packet) {
    ctx.packet = packet;
    ctx.args = packet.slice(1);
  }
  return ctx;
}

module.exports = { createContext, defaultContext };
