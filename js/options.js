'use strict';

const { cookieParts } = require('./http-options');

/** socket.io 4.8's defaults, plus our own queue limit. */
const DEFAULTS = {
  path: '/socket.io',
  pingInterval: 25000,
  pingTimeout: 20000,
  upgradeTimeout: 10000,
  connectTimeout: 45000,
  maxHttpBufferSize: 1e6,
  transports: ['polling', 'websocket'],
  allowUpgrades: true,
  /** Whether socket.io-client 2.x (engine.io protocol revision 3) may connect too. */
  allowEIO3: false,
  /**
   * Bytes one connection may have queued for sending. Past it, volatile packets are dropped
   * and any other packet closes the connection (reason "transport error").
   */
  maxBufferedBytes: 16 * 1024 * 1024,
  addTrailingSlash: true,
  serveClient: true,
  /** Polling answers of at least `threshold` bytes are gzip/deflate-compressed; false: never. */
  httpCompression: { threshold: 1024 },
  cors: false,
};

const U32_OPTIONS = ['pingInterval', 'pingTimeout', 'upgradeTimeout', 'connectTimeout', 'maxHttpBufferSize', 'maxBufferedBytes'];

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const isBoolean = (value) => typeof value === 'boolean';
const booleanOrObject = (value) => isBoolean(value) || isObject(value);

/**
 * The shapes other options must have when given: a wrong one is a mistake in the user's
 * configuration, reported at construction rather than found out from odd behaviour later.
 * @type {Record<string, [(value: any) => boolean, string]>}
 */
const SHAPES = {
  allowUpgrades: [isBoolean, 'a boolean'],
  allowEIO3: [isBoolean, 'a boolean'],
  addTrailingSlash: [isBoolean, 'a boolean'],
  serveClient: [isBoolean, 'a boolean'],
  cleanupEmptyChildNamespaces: [isBoolean, 'a boolean'],
  httpCompression: [booleanOrObject, 'a boolean or { threshold }'],
  perMessageDeflate: [booleanOrObject, 'a boolean or { threshold }'],
  connectionStateRecovery: [booleanOrObject, 'a boolean or { maxDisconnectionDuration, skipMiddlewares }'],
  cookie: [booleanOrObject, 'a boolean or the cookie attributes'],
  cors: [(value) => booleanOrObject(value) || typeof value === 'function', 'a boolean, the cors options or a function'],
  host: [(value) => typeof value === 'string', 'a string'],
  namespace: [isObject, 'an object of { [nsp]: { connectionMiddleware, packetMiddleware } }'],
  logger: [(value) => isObject(value) && typeof value.error === 'function', 'an object with an error(...) method'],
};

function checkShapes(resolved) {
  for (const [name, [valid, expected]] of Object.entries(SHAPES)) {
    const value = resolved[name];
    if (value !== undefined && !valid(value)) {
      const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
      throw new TypeError(`option "${name}" must be ${expected}, got ${got}`);
    }
  }
}

/** `threshold` of httpCompression / perMessageDeflate when given as an object. */
function checkThreshold(resolved, name) {
  const option = resolved[name];
  if (isObject(option) && option.threshold !== undefined && !isU32(option.threshold)) {
    throw new TypeError(`option "${name}.threshold" must be a number between 0 and 4294967295, got ${String(option.threshold)}`);
  }
}

/** @returns {typeof DEFAULTS & Record<string, any>} */
function resolveOptions(opts = {}) {
  const resolved = { ...DEFAULTS, ...opts };
  for (const name of U32_OPTIONS) {
    const value = resolved[name];
    if (!isU32(value)) {
      throw new TypeError(`option "${name}" must be a number between 0 and 4294967295, got ${String(value)}`);
    }
  }
  checkShapes(resolved);
  checkThreshold(resolved, 'httpCompression');
  if (typeof resolved.path !== 'string' || !resolved.path.startsWith('/')) {
    throw new TypeError(`option "path" must be a string starting with "/", got ${String(resolved.path)}`);
  }
  for (const name of ['allowRequest', 'generateId', 'createContext']) {
    if (resolved[name] !== undefined && typeof resolved[name] !== 'function') {
      throw new TypeError(`option "${name}" must be a function, got ${typeof resolved[name]}`);
    }
  }
  if (resolved.perMessageDeflate) {
    checkThreshold(resolved, 'perMessageDeflate');
    resolved.perMessageDeflate = { threshold: 1024, ...(resolved.perMessageDeflate === true ? {} : resolved.perMessageDeflate) };
  }
  if (resolved.connectionStateRecovery) {
    resolved.connectionStateRecovery = {
      maxDisconnectionDuration: 2 * 60 * 1000,
      skipMiddlewares: true,
      ...resolved.connectionStateRecovery,
    };
    const { maxDisconnectionDuration, skipMiddlewares } = resolved.connectionStateRecovery;
    if (!isU32(maxDisconnectionDuration)) {
      throw new TypeError(
        `option "connectionStateRecovery.maxDisconnectionDuration" must be a number between 0 and 4294967295, got ${String(maxDisconnectionDuration)}`,
      );
    }
    if (!isBoolean(skipMiddlewares)) {
      throw new TypeError(`option "connectionStateRecovery.skipMiddlewares" must be a boolean, got ${typeof skipMiddlewares}`);
    }
  }
  if (!Array.isArray(resolved.transports) || resolved.transports.some((t) => t !== 'polling' && t !== 'websocket')) {
    throw new TypeError('option "transports" must be an array of "polling" and/or "websocket"');
  }
  return resolved;
}

function isU32(value) {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 0xffffffff;
}

/**
 * @param {ReturnType<typeof resolveOptions>} opts
 * @param {{ json: string | undefined }} cors see http-options.js
 * @param {{ dir: string, version: string } | undefined} client socket.io-client's bundles
 */
function nativeOptions(opts, cors, client) {
  const cookie = cookieParts(opts.cookie);
  const compression = opts.httpCompression;
  return {
    path: opts.path,
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    upgradeTimeout: opts.upgradeTimeout,
    connectTimeout: opts.connectTimeout,
    maxHttpBufferSize: opts.maxHttpBufferSize,
    transports: opts.transports,
    allowUpgrades: opts.allowUpgrades !== false,
    allowEIO3: Boolean(opts.allowEIO3),
    maxBufferedBytes: opts.maxBufferedBytes,
    addTrailingSlash: opts.addTrailingSlash !== false,
    cors: cors.json,
    cookieName: cookie && cookie.name,
    cookieAttributes: cookie && cookie.attributes,
    compressionThreshold: compression ? Number(compression.threshold) || 0 : undefined,
    clientDir: client && client.dir,
    clientVersion: client && client.version,
    deflateThreshold: opts.perMessageDeflate ? opts.perMessageDeflate.threshold : undefined,
    recoveryWindow: opts.connectionStateRecovery ? opts.connectionStateRecovery.maxDisconnectionDuration : undefined,
  };
}

module.exports = { DEFAULTS, resolveOptions, nativeOptions };
