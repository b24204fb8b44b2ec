'use strict';

const { TRANSPORTS, startServer, client, once, until } = require('./helpers');

describe.each(['websocket', 'polling'])('generateId over %s', (transport) => {
  let server;
  let socket;

  afterEach(async () => {
    if (socket) socket.disconnect();
    // Let the client's close request finish before the server goes away.
    try {
      await until(() => server.io.engine.clientsCount === 0);
    } finally {
      server.io.close();
    }
  });

  async function connectedEngineId(opts) {
    socket = client(server.url, { ...TRANSPORTS[transport], ...opts });
    const [serverSocket] = await Promise.all([once(server.io.sockets, 'connection'), once(socket, 'connect')]);
    return { clientId: socket.io.engine.id, serverConnId: serverSocket.conn.id };
  }

  test('the egg-style option generateId(req) names the engine session from the request', async () => {
    server = startServer({ generateId: (req) => `user-${req._query.uid}-${req.headers['x-tenant']}` });
    const ids = await connectedEngineId({ query: { uid: '42' }, extraHeaders: { 'x-tenant': 't1' } });
    expect(ids).toEqual({ clientId: 'user-42-t1', serverConnId: 'user-42-t1' });
  });

  test('io.engine.generateId may answer with a Promise', async () => {
    server = startServer();
    server.io.engine.generateId = async (req) => `async-${new URL(req.url, 'http://x').searchParams.get('uid')}`;
    const ids = await connectedEngineId({ query: { uid: '7' } });
    expect(ids.clientId).toBe('async-7');
  });

  test('a generator that throws falls back to a random id', async () => {
    server = startServer({
      generateId: () => {
        throw new Error('no id today');
      },
    });
    const ids = await connectedEngineId();
    expect(ids.clientId).toMatch(/^[\w-]{20}$/);
    expect(ids.serverConnId).toBe(ids.clientId);
  });

  test('an id already in use is not given twice', async () => {
    server = startServer({ generateId: () => 'same' });
    const first = await connectedEngineId();
    const firstSocket = socket;
    const second = await connectedEngineId();
    expect(first.clientId).toBe('same');
    expect(second.clientId).not.toBe('same');
    firstSocket.disconnect();
  });
});
