'use strict';

// allowRequest(req, cb): engine.io's last check of a handshake; a refusal is HTTP 403 with
// `{"code":4,"message":…}`, and the client never connects.

const http = require('http');
const WebSocket = require('ws');
const { TRANSPORTS, startServer, startAttached, client, once, until } = require('./helpers');

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

function post(url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST' }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function websocketRefusal(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.on('open', () => resolve({ status: 101 }));
  });
}

describe.each([
  ['own port', (opts) => startServer(opts)],
  ['attached to http.Server', (opts) => startAttached(opts)],
])('%s', (_name, start) => {
  let server;
  const clients = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    try {
      await until(() => server.io.engine.clientsCount === 0);
    } finally {
      server.io.close();
    }
  });

  const allowRequest = (req, callback) => {
    const token = new URL(req.url, 'http://x').searchParams.get('token');
    if (token === 'slow-ok') return setTimeout(() => callback(null, true), 20);
    callback(token === 'ok' ? null : 'bad token', token === 'ok');
  };

  test('refused handshakes get 403 with the hook message, over polling and websocket', async () => {
    server = await start({ allowRequest });
    const base = server.url.replace('http', 'ws');
    expect(await get(`${server.url}/socket.io/?EIO=4&transport=polling&token=no`)).toEqual({
      status: 403,
      body: '{"code":4,"message":"bad token"}',
    });
    expect(await websocketRefusal(`${base}/socket.io/?EIO=4&transport=websocket&token=no`)).toEqual({
      status: 403,
      body: '{"code":4,"message":"bad token"}',
    });
    const accepted = await get(`${server.url}/socket.io/?EIO=4&transport=polling&token=slow-ok`);
    expect(accepted.status).toBe(200);
    expect(accepted.body.startsWith('0{"sid":')).toBe(true);
    // Close that session the way a client does: a close packet.
    const { sid } = JSON.parse(accepted.body.slice(1));
    await post(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, '1');
  });

  test.each(Object.keys(TRANSPORTS))('socket.io-client over %s: allowed connects, refused gets connect_error', async (transport) => {
    server = await start({ allowRequest, generateId: () => 'custom-id' });
    const ok = client(server.url, { ...TRANSPORTS[transport], query: { token: 'ok' } });
    clients.push(ok);
    await once(ok, 'connect');
    expect(ok.io.engine.id).toBe('custom-id');
    const refused = client(server.url, { ...TRANSPORTS[transport], query: { token: 'nope' } });
    clients.push(refused);
    const err = await once(refused, 'connect_error');
    expect(err).toBeInstanceOf(Error);
    expect(server.io.engine.clientsCount).toBe(1);
  });
});

test('a non-function allowRequest is rejected at construction, naming the option', () => {
  const { Server } = require('..');
  expect(() => new Server({ allowRequest: true })).toThrow('option "allowRequest" must be a function, got boolean');
});
