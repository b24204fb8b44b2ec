'use strict';

// Attached to an https.Server (Egg's `cluster.https`): polling and websocket over TLS, the
// websocket relayed to Rust through a loopback connection.

const fs = require('fs');
const path = require('path');
const https = require('https');
const { Server } = require('..');
const { TRANSPORTS, client, once, until, settled } = require('./helpers');

const tls = {
  key: fs.readFileSync(path.join(__dirname, 'fixtures', 'tls-key.pem')),
  cert: fs.readFileSync(path.join(__dirname, 'fixtures', 'tls-cert.pem')),
};

let servers = [];
const clients = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  for (const { io, httpsServer } of servers) {
    io.close();
    httpsServer.closeAllConnections();
    await new Promise((resolve) => httpsServer.close(resolve));
  }
  servers = [];
});

async function startHttps(opts) {
  const httpsServer = https.createServer(tls, (req, res) => res.end('app over tls'));
  const io = new Server(httpsServer, opts);
  await new Promise((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  servers.push({ io, httpsServer });
  return { io, url: `https://127.0.0.1:${httpsServer.address().port}` };
}

describe.each(Object.keys(TRANSPORTS))('attached to an https.Server, over %s', (transport) => {
  test('connects, echoes and broadcasts; the handshake says secure', async () => {
    const { io, url } = await startHttps();
    io.on('connection', (socket) => socket.on('echo', (value, ack) => ack(value)));
    const connected = once(io, 'connection');
    const c = client(url, { ...TRANSPORTS[transport], rejectUnauthorized: false });
    clients.push(c);
    await once(c, 'connect');
    await settled(c, transport);
    const socket = await connected;
    expect(socket.handshake.secure).toBe(true);
    expect(c.io.engine.transport.name).toBe(transport === 'polling' ? 'polling' : 'websocket');
    const big = 'x'.repeat(200_000);
    expect(await c.emitWithAck('echo', big)).toBe(big);
    expect(await c.emitWithAck('echo', Buffer.from([1, 2, 3]))).toEqual(Buffer.from([1, 2, 3]));
    const news = once(c, 'news');
    io.emit('news', 'to all');
    expect(await news).toBe('to all');
    const gone = once(socket, 'disconnect');
    c.disconnect();
    expect((await gone)[0]).toBe('client namespace disconnect');
    await until(() => io.engine.clientsCount === 0);
  });
});

test('a client that drops its TLS connection is seen as gone', async () => {
  const { io, url } = await startHttps();
  const connected = once(io, 'connection');
  const c = client(url, { ...TRANSPORTS.websocket, rejectUnauthorized: false });
  clients.push(c);
  const socket = await connected;
  const gone = once(socket, 'disconnect');
  c.io.engine.transport.ws._socket.destroy();
  expect((await gone)[0]).toBe('transport close');
});

test('the app keeps its own routes over TLS', async () => {
  const { url } = await startHttps();
  const body = await new Promise((resolve, reject) => {
    https
      .get(`${url}/hello`, { rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  expect(body).toBe('app over tls');
});
