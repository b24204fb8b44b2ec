'use strict';

// CORS as engine.io applies it (the `cors` package): the same requests go to socket.io 4.8 and
// to us, over our own listener and attached to an http.Server, and the CORS headers must match.

const http = require('http');
const { Server: ReferenceServer } = require('socket.io');
const { startServer, startAttached, client, once, until } = require('./helpers');
const { request, rawUpgrade } = require('./raw');

const CORS_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
  'vary',
];

const corsOf = (res) => Object.fromEntries(CORS_HEADERS.filter((h) => h in res.headers).map((h) => [h, res.headers[h]]));

async function startReference(opts) {
  const httpServer = http.createServer();
  const io = new ReferenceServer(httpServer, opts);
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return { io, port: httpServer.address().port };
}

/** Each request of a scenario: the handshake, a POST on its session, a preflight, a refusal. */
async function scenario(port, origin) {
  const headers = origin ? { origin, 'access-control-request-headers': 'x-token' } : {};
  const handshake = await request(port, '/socket.io/?EIO=4&transport=polling', { headers });
  const sid = handshake.status === 200 ? JSON.parse(handshake.body.slice(1)).sid : 'none';
  const post = await request(port, `/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '40', headers });
  const preflight = await request(port, '/socket.io/?EIO=4&transport=polling', { method: 'OPTIONS', headers });
  const refused = await request(port, '/socket.io/?EIO=4&transport=nope', { headers });
  return [handshake, post, preflight, refused].map((res) => ({ status: res.status, cors: corsOf(res) }));
}

const CASES = {
  'no cors option': undefined,
  'cors: true': true,
  'origin "*" with methods list': { origin: '*', methods: ['GET', 'POST'] },
  'fixed origin': { origin: 'http://fixed.example' },
  'origin list with credentials': { origin: ['http://a.example', 'http://b.example'], credentials: true },
  'origin true (reflect), headers and max age': {
    origin: true,
    allowedHeaders: ['x-token', 'x-other'],
    exposedHeaders: 'x-exposed',
    maxAge: 600,
  },
  'RegExp origin': { origin: /\.a\.example$/ },
  'array with a RegExp': { origin: ['http://b.example', /^http:\/\/www\./] },
  'origin function': { origin: (origin, cb) => cb(null, origin === 'http://x.a.example') },
  'origin function returning a fixed origin': { origin: (origin, cb) => cb(null, 'http://chosen.example') },
  'origin false': { origin: false },
  'optionsSuccessStatus 200': { optionsSuccessStatus: 200 },
};

const ORIGINS = [undefined, 'http://x.a.example', 'http://b.example', 'http://www.other.example'];

describe.each(['own listener', 'attached'])('cors over %s', (mode) => {
  test.each(Object.keys(CASES))('%s: headers as socket.io 4.8 sends them', async (name) => {
    const opts = CASES[name] === undefined ? {} : { cors: CASES[name] };
    const reference = await startReference(opts);
    const ours = mode === 'own listener' ? startServer(opts) : await startAttached(opts);
    try {
      for (const origin of ORIGINS) {
        expect({ origin, results: await scenario(ours.port, origin) }).toEqual({
          origin,
          results: await scenario(reference.port, origin),
        });
      }
    } finally {
      ours.io.close();
      reference.io.close();
    }
  });

  test('a failing origin function refuses with 400 "Bad request"', async () => {
    const opts = { cors: { origin: (origin, cb) => cb(new Error('no')) } };
    const ours = mode === 'own listener' ? startServer(opts) : await startAttached(opts);
    const errors = [];
    ours.io.engine.on('connection_error', (err) => errors.push(err));
    try {
      const res = await request(ours.port, '/socket.io/?EIO=4&transport=polling', { headers: { origin: 'http://a.example' } });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual({ code: 3, message: 'Bad request' });
      await until(() => errors.length === 1);
      expect(errors[0].context).toEqual({ name: 'MIDDLEWARE_FAILURE' });
    } finally {
      ours.io.close();
    }
  });

  test('the websocket 101 carries the CORS headers, and a browser-like client connects', async () => {
    const opts = { cors: { origin: /example$/, credentials: true } };
    const ours = mode === 'own listener' ? startServer(opts) : await startAttached(opts);
    try {
      const head = await rawUpgrade(ours.port, '/socket.io/?EIO=4&transport=websocket', { origin: 'http://a.example' });
      expect(head).toMatch(/^HTTP\/1\.1 101/);
      expect(head).toMatch(/\r\nAccess-Control-Allow-Origin: http:\/\/a\.example\r\n/i);
      expect(head).toMatch(/\r\nAccess-Control-Allow-Credentials: true\r\n/i);
      for (const transports of [['polling'], ['websocket']]) {
        const c = client(ours.url, { transports, extraHeaders: { origin: 'http://app.example' } });
        try {
          await once(c, 'connect');
        } finally {
          c.disconnect();
        }
        await until(() => ours.io.engine.clientsCount === 0);
      }
    } finally {
      ours.io.close();
    }
  });
});
