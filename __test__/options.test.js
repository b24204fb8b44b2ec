'use strict';

// A bad option value is refused at construction with a message that names the option.

const { Server } = require('..');

test.each([
  [{ pingInterval: '25s' }, 'option "pingInterval" must be a number between 0 and 4294967295, got 25s'],
  [{ maxHttpBufferSize: -1 }, 'option "maxHttpBufferSize" must be a number between 0 and 4294967295, got -1'],
  [{ path: 'socket.io' }, 'option "path" must be a string starting with "/", got socket.io'],
  [{ transports: ['polling', 'flashsocket'] }, 'option "transports" must be an array of "polling" and/or "websocket"'],
  [{ generateId: 'uuid' }, 'option "generateId" must be a function, got string'],
  [{ allowEIO3: 'yes' }, 'option "allowEIO3" must be a boolean, got string'],
  [{ allowUpgrades: 0 }, 'option "allowUpgrades" must be a boolean, got number'],
  [{ serveClient: 'false' }, 'option "serveClient" must be a boolean, got string'],
  [{ addTrailingSlash: null }, 'option "addTrailingSlash" must be a boolean, got null'],
  [{ cleanupEmptyChildNamespaces: 1 }, 'option "cleanupEmptyChildNamespaces" must be a boolean, got number'],
  [{ httpCompression: 1024 }, 'option "httpCompression" must be a boolean or { threshold }, got number'],
  [{ httpCompression: { threshold: 'big' } }, 'option "httpCompression.threshold" must be a number between 0 and 4294967295, got big'],
  [{ perMessageDeflate: 'on' }, 'option "perMessageDeflate" must be a boolean or { threshold }, got string'],
  [{ perMessageDeflate: { threshold: -5 } }, 'option "perMessageDeflate.threshold" must be a number between 0 and 4294967295, got -5'],
  [{ connectionStateRecovery: [] }, 'option "connectionStateRecovery" must be a boolean or { maxDisconnectionDuration, skipMiddlewares }, got an array'],
  [
    { connectionStateRecovery: { skipMiddlewares: 'no' } },
    'option "connectionStateRecovery.skipMiddlewares" must be a boolean, got string',
  ],
  [{ cookie: 'io' }, 'option "cookie" must be a boolean or the cookie attributes, got string'],
  [{ cors: 'https://example.com' }, 'option "cors" must be a boolean, the cors options or a function, got string'],
  [{ host: 8080 }, 'option "host" must be a string, got number'],
  [{ namespace: ['/'] }, 'option "namespace" must be an object of { [nsp]: { connectionMiddleware, packetMiddleware } }, got an array'],
  [{ logger: console.log }, 'option "logger" must be an object with an error(...) method, got function'],
])('%j is refused', (opts, message) => {
  expect(() => new Server(opts)).toThrow(new TypeError(message));
});

test('the documented shapes are accepted', () => {
  const io = new Server({
    allowEIO3: true,
    allowUpgrades: false,
    serveClient: false,
    addTrailingSlash: false,
    cleanupEmptyChildNamespaces: true,
    httpCompression: false,
    perMessageDeflate: { threshold: 0 },
    connectionStateRecovery: { maxDisconnectionDuration: 1000, skipMiddlewares: false },
    cookie: { name: 'sio' },
    cors: { origin: ['https://a.example'], credentials: true },
    host: '127.0.0.1',
    namespace: { '/': { connectionMiddleware: [], packetMiddleware: [] } },
    logger: console,
  });
  expect(io.opts.perMessageDeflate).toEqual({ threshold: 0 });
  io.close();
  new Server({ cors: (req, cb) => cb(null, { origin: true }), cookie: true, perMessageDeflate: true }).close();
});
