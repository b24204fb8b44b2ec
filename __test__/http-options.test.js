'use strict';

// cookie, httpCompression, addTrailingSlash and serveClient, checked against socket.io 4.8 on
// the same requests, over our own listener and attached to an http.Server.

const http = require('http');
const zlib = require('zlib');
const { Server: ReferenceServer } = require('socket.io');
const { startServer, startAttached, client, once } = require('./helpers');
const { request, rawUpgrade } = require('./raw');

const app = (req, res) => {
  res.writeHead(404);
  res.end('app');
};

const start = (mode, opts) => (mode === 'own listener' ? startServer(opts) : startAttached(opts, app));

async function startReference(opts) {
  const httpServer = http.createServer(app);
  const io = new ReferenceServer(httpServer, opts);
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return { io, port: httpServer.address().port };
}

/** Raw body of a request (not decompressed) with its headers. */
function rawRequest(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

async function withBoth(mode, opts, fn) {
  const reference = await startReference(opts);
  const ours = await start(mode, opts);
  try {
    await fn(ours, reference);
  } finally {
    ours.io.close();
    reference.io.close();
  }
}

const cookieOf = (res, sid) => [].concat(res.headers['set-cookie'] || []).map((c) => c.replace(sid, '<sid>'));

describe.each(['own listener', 'attached'])('HTTP options over %s', (mode) => {
  test.each([
    ['true', true],
    ['custom', { name: 'sess', path: '/app', sameSite: 'strict', secure: true, maxAge: 3600, httpOnly: false }],
    ['absent', undefined],
  ])('cookie %s: Set-Cookie on the polling handshake only, as socket.io', async (_, cookie) => {
    await withBoth(mode, { cookie }, async (ours, reference) => {
      const results = [];
      for (const port of [ours.port, reference.port]) {
        const handshake = await request(port, '/socket.io/?EIO=4&transport=polling');
        const sid = JSON.parse(handshake.body.slice(1)).sid;
        const poll = await request(port, `/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '1' });
        const upgrade = await rawUpgrade(port, '/socket.io/?EIO=4&transport=websocket');
        results.push({ handshake: cookieOf(handshake, sid), poll: cookieOf(poll, sid), websocket: /set-cookie/i.test(upgrade) });
      }
      expect(results[0]).toEqual(results[1]);
    });
  });

  test('httpCompression: large polling answers are compressed as the client accepts, small ones not', async () => {
    await withBoth(mode, {}, async (ours, reference) => {
      const results = [];
      for (const [port, io] of [
        [ours.port, ours.io],
        [reference.port, reference.io],
      ]) {
        for (const encoding of ['gzip', 'deflate', 'br', undefined]) {
          const handshake = await rawRequest(port, '/socket.io/?EIO=4&transport=polling');
          const sid = JSON.parse(handshake.body.toString().slice(1)).sid;
          const url = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
          const connected = once(io, 'connection');
          await request(port, url, { method: 'POST', body: '40' });
          await rawRequest(port, url); // the CONNECT answer
          const socket = await connected;
          socket.emit('big', 'x'.repeat(2000));
          const headers = encoding ? { 'accept-encoding': encoding } : {};
          const big = await rawRequest(port, url, headers);
          const used = big.headers['content-encoding'];
          const body = used === 'gzip' ? zlib.gunzipSync(big.body) : used === 'deflate' ? zlib.inflateSync(big.body) : big.body;
          socket.emit('small', 'x');
          const small = await rawRequest(port, url, headers);
          results.push({ encoding, used, body: body.toString(), small: small.headers['content-encoding'] });
          // The client closes the session: a server-side close would leave socket.io a 30 s
          // timer waiting for a next poll.
          socket.disconnect();
          await rawRequest(port, url);
          await request(port, url, { method: 'POST', body: '1' });
        }
      }
      expect(results.slice(0, 4)).toEqual(results.slice(4));
      expect(results[0].used).toBe('gzip');
    });
  });

  test('httpCompression: false never compresses', async () => {
    const ours = await start(mode, { httpCompression: false });
    try {
      const handshake = await request(ours.port, '/socket.io/?EIO=4&transport=polling');
      const url = `/socket.io/?EIO=4&transport=polling&sid=${JSON.parse(handshake.body.slice(1)).sid}`;
      const connected = once(ours.io, 'connection');
      await request(ours.port, url, { method: 'POST', body: '40' });
      await rawRequest(ours.port, url);
      (await connected).emit('big', 'x'.repeat(5000));
      const big = await rawRequest(ours.port, url, { 'accept-encoding': 'gzip' });
      expect(big.headers['content-encoding']).toBeUndefined();
      expect(big.body.toString()).toContain('x'.repeat(5000));
    } finally {
      ours.io.close();
    }
  });

  test.each([true, false])('addTrailingSlash %s: the paths served are socket.io\'s', async (addTrailingSlash) => {
    await withBoth(mode, { addTrailingSlash }, async (ours, reference) => {
      const statuses = [];
      for (const port of [ours.port, reference.port]) {
        const row = [];
        for (const path of ['/socket.io/', '/socket.io', '/socket.iox/', '/other/']) {
          const res = await request(port, `${path}?EIO=4&transport=polling`);
          row.push(res.status);
          // Closed by the client: socket.io would otherwise wait 30 s for a poll after io.close().
          if (res.status === 200) {
            const sid = JSON.parse(res.body.slice(1)).sid;
            await request(port, `${path}?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '1' });
          }
        }
        statuses.push(row);
      }
      if (mode === 'own listener') statuses[0][3] = statuses[1][3]; // no app behind our own port
      expect(statuses[0]).toEqual(statuses[1]);
      const serverSide = once(ours.io, 'connection');
      const c = client(ours.url, { addTrailingSlash });
      try {
        await once(c, 'connect');
        const gone = once(await serverSide, 'disconnect');
        c.disconnect();
        await gone;
      } finally {
        c.disconnect();
      }
    });
  });

  test('serveClient: the bundles of socket.io-client with ETag, 304 and compression', async () => {
    await withBoth(mode, {}, async (ours, reference) => {
      for (const name of ['socket.io.js', 'socket.io.min.js', 'socket.io.esm.min.js', 'socket.io.min.js.map']) {
        const [mine, theirs] = await Promise.all([
          rawRequest(ours.port, `/socket.io/${name}`),
          rawRequest(reference.port, `/socket.io/${name}`),
        ]);
        expect(mine.status).toBe(200);
        for (const header of ['content-type', 'etag', 'cache-control']) expect(mine.headers[header]).toBe(theirs.headers[header]);
        expect(mine.body.equals(theirs.body)).toBe(true);
        const cached = await rawRequest(ours.port, `/socket.io/${name}?v=1`, { 'if-none-match': mine.headers.etag });
        expect(cached.status).toBe(304);
        const gzipped = await rawRequest(ours.port, `/socket.io/${name}`, { 'accept-encoding': 'gzip' });
        expect(gzipped.headers['content-encoding']).toBe('gzip');
        expect(zlib.gunzipSync(gzipped.body).equals(mine.body)).toBe(true);
      }
    });
  });

  test('serveClient: false serves no bundle', async () => {
    const ours = await start(mode, { serveClient: false });
    try {
      const res = await request(ours.port, '/socket.io/socket.io.js');
      expect(res.status).not.toBe(200);
    } finally {
      ours.io.close();
    }
  });
});
