'use strict';

// Values that cannot be sent are refused where they are emitted, with a clear error, and nothing
// reaches the client; the socket stays usable.

const { startServer, client, once, until } = require('./helpers');

let server;
let c;

afterEach(async () => {
  if (c) c.disconnect();
  try {
    await until(() => server.io.engine.clientsCount === 0);
  } finally {
    server.io.close();
  }
});

test('a cycle, a function or a BigInt throws from emit, and the socket keeps working', async () => {
  server = startServer();
  const connected = once(server.io.sockets, 'connection');
  c = client(server.url, { transports: ['websocket'] });
  const s = await connected;
  const received = [];
  c.on('msg', (x) => received.push(x));
  const cycle = { name: 'loop' };
  cycle.self = cycle;
  expect(() => s.emit('msg', cycle)).toThrow(/cannot emit this value: Converting circular structure to JSON/);
  expect(() => s.emit('msg', () => {}, 1)).toThrow(/cannot emit a function/);
  expect(() => s.emit('msg', { nested: [1, { f() {} }] })).toThrow(/cannot emit a function/);
  expect(() => s.emit('msg', { big: 10n })).toThrow(/cannot emit this value: Do not know how to serialize a BigInt/);
  expect(() => server.io.emit('msg', Buffer.from([1]), { f: () => {} })).toThrow(/cannot emit a function/);
  expect(() => server.io.emit('connect')).toThrow('"connect" is a reserved event name');
  s.emit('msg', 'fine');
  await until(() => received.length === 1);
  expect(received).toEqual(['fine']);
});
