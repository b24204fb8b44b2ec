'use strict';

// io.engine's events as engine.io emits them: connection, connection_error, initial_headers and
// headers (which may change the response headers), over both ways in.

const { TRANSPORTS, startServer, startAttached, client, once, until } = require('./helpers');
const { request, rawUpgrade } = require('./raw');

const start = (mode, opts) => (mode === 'own listener' ? startServer(opts) : startAttached(opts));

describe.each(['own listener', 'attached'])('engine events over %s', (mode) => {
  let server;
  const clients = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    const s = server;
    server = undefined;
    if (!s) return;
    try {
      await until(() => s.io.engine.clientsCount === 0);
    } finally {
      s.io.close();
    }
  });

  test.each(Object.keys(TRANSPORTS))('connection gives the engine socket (%s)', async (transport) => {
    server = await start(mode);
    const engineSocket = once(server.io.engine, 'connection');
    const serverSocket = once(server.io, 'connection');
    const c = client(server.url, TRANSPORTS[transport]);
    clients.push(c);
    await once(c, 'connect');
    const conn = await engineSocket;
    expect(conn.id).toBe(c.io.engine.id);
    // Read when asked: an upgrading client may already be on websocket.
    if (transport !== 'upgrade') expect(conn.transport.name).toBe(transport);
    expect(conn.readyState).toBe('open');
    expect(conn.protocol).toBe(4);
    expect(conn.request.headers.host).toBe(`127.0.0.1:${server.port}`);
    expect((await serverSocket).conn.id).toBe(conn.id);
    const closed = once(conn, 'close');
    c.disconnect();
    expect(await closed).toBe('transport close');
  });

  test('connection_error reports refused requests with engine.io codes and contexts', async () => {
    server = await start(mode, { allowRequest: (req, cb) => cb(req.headers['x-deny'] ? 'denied' : null, !req.headers['x-deny']) });
    const errors = [];
    server.io.engine.on('connection_error', (err) => errors.push(err));
    await request(server.port, '/socket.io/?EIO=4&transport=bogus');
    await request(server.port, '/socket.io/?EIO=4&transport=polling&sid=unknown');
    await request(server.port, '/socket.io/?EIO=4&transport=polling', { method: 'PUT' });
    await request(server.port, '/socket.io/?EIO=4&transport=polling', { headers: { 'x-deny': '1' } });
    await rawUpgrade(server.port, '/socket.io/?EIO=4&transport=websocket', { 'x-deny': '1' });
    await until(() => errors.length === 5);
    expect(errors.map(({ code, message, context }) => ({ code, message, context }))).toEqual([
      { code: 0, message: 'Transport unknown', context: { transport: 'bogus' } },
      { code: 1, message: 'Session ID unknown', context: { sid: 'unknown' } },
      { code: 2, message: 'Bad handshake method', context: { method: 'PUT' } },
      { code: 4, message: 'Forbidden', context: { message: 'denied' } },
      { code: 4, message: 'Forbidden', context: { message: 'denied' } },
    ]);
    expect(errors[2].req.method).toBe('PUT');
    expect(errors[0].req.url).toBe('/socket.io/?EIO=4&transport=bogus');
    expect(errors[3].req.headers['x-deny']).toBe('1');
  });

  test('initial_headers and headers change polling answers; headers reaches every one', async () => {
    server = await start(mode);
    const seen = [];
    server.io.engine.on('initial_headers', (headers, req) => {
      seen.push(['initial', req.method]);
      headers['X-Initial'] = 'yes';
    });
    server.io.engine.on('headers', (headers, req) => {
      seen.push(['headers', req.method]);
      headers['X-Every'] = req.url.includes('sid=') ? 'session' : 'handshake';
    });
    const handshake = await request(server.port, '/socket.io/?EIO=4&transport=polling');
    expect(handshake.headers['x-initial']).toBe('yes');
    expect(handshake.headers['x-every']).toBe('handshake');
    expect(handshake.headers['cache-control']).toBe('no-store');
    const sid = JSON.parse(handshake.body.slice(1)).sid;
    const post = await request(server.port, `/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '1' });
    expect(post.headers['x-initial']).toBeUndefined();
    expect(post.headers['x-every']).toBe('session');
    const refused = await request(server.port, '/socket.io/?EIO=4&transport=bogus');
    expect(refused.headers['x-every']).toBeUndefined();
    expect(seen).toEqual([
      ['initial', 'GET'],
      ['headers', 'GET'],
      ['headers', 'POST'],
    ]);
  });

  test('headers listeners reach the websocket 101', async () => {
    server = await start(mode);
    server.io.engine.on('initial_headers', (headers) => {
      headers['X-Initial'] = 'ws';
    });
    server.io.engine.on('headers', (headers) => {
      headers['X-Every'] = 'ws';
    });
    const head = await rawUpgrade(server.port, '/socket.io/?EIO=4&transport=websocket');
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    expect(head).toMatch(/\r\nX-Initial: ws\r\n/i);
    expect(head).toMatch(/\r\nX-Every: ws\r\n/i);
    const c = client(server.url, TRANSPORTS.upgrade);
    clients.push(c);
    await once(c, 'connect');
    await until(() => c.io.engine.transport.name === 'websocket');
  });
});
