'use strict';

const { compose } = require('./compose');
const { createContext } = require('./context');

/** Routes on these names are called for the socket's own lifecycle events, not for packets. */
const SYSTEM_EVENTS = new Set(['disconnect', 'disconnecting', 'error']);

/**
 * The egg-style model of one namespace: connection middleware, packet middleware and routes.
 * Inactive (no cost on the packet path) until something is configured.
 */
class EggLayer {
  /** @param {import('../namespace').Namespace} nsp */
  constructor(nsp) {
    this.nsp = nsp;
    this.connection = [];
    this.packet = [];
    /** @type {Map<string, Function>} */
    this.routes = new Map();
    /** @type {Map<string, Function>} */
    this.systemRoutes = new Map();
    // Composed over the live arrays, so middleware added later is included.
    this._composedConnection = compose(this.connection);
    this._composedPacket = compose(this.packet);
  }

  /**
   * Applies `namespace: { '/': { connectionMiddleware, packetMiddleware } }` from the options.
   * @param {import('../server').Server} io
   * @param {Record<string, { connectionMiddleware?: Function[], packetMiddleware?: Function[] }>} [config]
   */
  static configure(io, config) {
    if (!config) return;
    for (const [name, nspConfig] of Object.entries(config)) {
      const layer = io.of(name)._egg;
      const connection = (nspConfig && nspConfig.connectionMiddleware) || [];
      const packet = (nspConfig && nspConfig.packetMiddleware) || [];
      for (const fn of [...connection, ...packet]) {
        if (typeof fn !== 'function') throw new TypeError(`option "namespace.${name}": middleware must be functions`);
      }
      layer.connection.push(...connection);
      layer.packet.push(...packet);
    }
  }

  forChild(child) {
    const layer = new EggLayer(child);
    layer.connection = this.connection;
    layer.packet = this.packet;
    layer.routes = this.routes;
    layer.systemRoutes = this.systemRoutes;
    layer._composedConnection = this._composedConnection;
    layer._composedPacket = this._composedPacket;
    return layer;
  }

  get active() {
    return this.packet.length > 0 || this.routes.size > 0;
  }

  route(event, handler) {
    if (typeof handler !== 'function') throw new TypeError(`route "${event}": handler must be a function`);
    (SYSTEM_EVENTS.has(event) ? this.systemRoutes : this.routes).set(event, handler);
  }

  get logger() {
    return this.nsp.server.opts.logger || console;
  }

  /**
   * The connection middleware chain as one socket.io middleware. Code before `next()` runs at
   * connect; code after `await next()` runs when the socket disconnects. A chain that returns
   * without `next()` still admits the socket; a throw refuses it.
   */
  connectionMiddleware() {
    if (!this.connection.length) return [];
    const composed = this._composedConnection;
    return [
      (socket, admit) => {
        const ctx = createContext(socket);
        let admitted = false;
        const admitOnce = (err) => {
          if (admitted) return false;
          admitted = true;
          admit(err);
          return true;
        };
        const untilDisconnect = () =>
          new Promise((resolve) => {
            if (socket._refused) return resolve();
            socket.once('disconnect', (reason) => {
              ctx.args = [reason];
              resolve();
            });
          });
        composed(ctx, async () => {
          admitOnce();
          await untilDisconnect();
        }).then(
          () => admitOnce(),
          (err) => {
            if (!admitOnce(err instanceof Error ? err : new Error(String(err)))) {
              this.logger.error('[socket.io-native] connection middleware error after connect', err);
            }
          },
        );
      },
    ];
  }

  /** Registers the lifecycle routes (disconnect, disconnecting, error) on a new socket. */
  onConnection(socket) {
    for (const [event, handler] of this.systemRoutes) {
      socket.on(event, (...args) => {
        const ctx = createContext(socket, [event, ...args]);
        this._run(() => handler.call(ctx, ctx), event);
      });
    }
  }

  /** Packet middleware, then the listeners and the route of the event. */
  dispatch(socket, args) {
    const event = args[0];
    const handler = this.routes.get(event);
    if (this.packet.length === 0) {
      // No packet middleware: no chain to compose, and no promise unless the handler makes one.
      socket._emitLocal(args);
      if (handler) this._call(handler, createContext(socket, args), event);
      return;
    }
    const ctx = createContext(socket, args);
    this._run(
      () =>
        this._composedPacket(ctx, async () => {
          socket._emitLocal(args);
          if (handler) await handler.call(ctx, ctx);
        }),
      event,
    );
  }

  _call(handler, ctx, event) {
    try {
      const result = handler.call(ctx, ctx);
      if (result && typeof result.then === 'function') result.then(undefined, (err) => this._log(err, event));
    } catch (err) {
      this._log(err, event);
    }
  }

  _run(fn, event) {
    try {
      Promise.resolve(fn()).catch((err) => this._log(err, event));
    } catch (err) {
      this._log(err, event);
    }
  }

  _log(err, event) {
    this.logger.error(`[socket.io-native] handler for "${String(event)}" in ${this.nsp.name} failed`, err);
  }
}

module.exports = { EggLayer, SYSTEM_EVENTS };
