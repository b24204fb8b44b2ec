'use strict';

// Runs examples/chat/server.js as `npm start` would (a child process; PORT=0 lets the OS pick a
// free port, read back from the URL it prints) and drives clients through join, online,
// exchange and leave.

const http = require('http');
const path = require('path');
const { spawn } = require('child_process');
const { TRANSPORTS, client, once, until } = require('./helpers');

const SERVER = path.join(__dirname, '..', 'examples', 'chat', 'server.js');

function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body: Buffer.concat(chunks).toString() }));
      })
      .on('error', reject);
  });
}

/** Collects every `event` a client receives, to wait on and assert in order. */
function recorder(socket, event) {
  const seen = [];
  socket.on(event, (msg) => seen.push(msg));
  return seen;
}

describe('examples/chat (npm start)', () => {
  let child;
  let url;
  let output = '';
  const sockets = [];

  beforeAll(async () => {
    child = spawn(process.execPath, [SERVER], {
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    url = await new Promise((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        output += chunk;
        const match = /http:\/\/localhost:(\d+)/.exec(output);
        if (match) resolve(`http://127.0.0.1:${match[1]}`);
      });
      child.once('exit', (code) => reject(new Error(`chat example exited (${code}):\n${output}`)));
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  });

  function join(room, userId, transport) {
    const socket = client(`${url}/chat`, { ...TRANSPORTS[transport], query: { room, userId } });
    sockets.push(socket);
    return socket;
  }

  const ids = (msg) => msg.clients.map((c) => c.userId).sort();

  test('serves the page and the browser client bundle', async () => {
    const page = await get(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/text\/html/);
    expect(page.body).toContain('<script src="/socket.io.min.js"></script>');
    const bundle = await get(`${url}/socket.io.min.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.body.length).toBeGreaterThan(10000);
    expect((await get(`${url}/missing`)).status).toBe(404);
  });

  test('join, online, exchange to the room and to one socket, leave', async () => {
    // alice over websocket
    const alice = join('r1', 'alice', 'websocket');
    const aliceOnline = recorder(alice, 'online');
    const aliceGot = recorder(alice, 'exchange');
    await once(alice, 'connect');
    await until(() => aliceOnline.length === 1);
    expect(aliceOnline[0]).toMatchObject({ action: 'join', room: 'r1', userId: 'alice' });
    expect(aliceOnline[0].clients).toEqual([{ id: alice.id, userId: 'alice' }]);

    // bob over polling: both hear that he joined, with both in the list
    const bob = join('r1', 'bob', 'polling');
    const bobOnline = recorder(bob, 'online');
    const bobGot = recorder(bob, 'exchange');
    await once(bob, 'connect');
    await until(() => aliceOnline.length === 2 && bobOnline.length === 1);
    for (const msg of [aliceOnline[1], bobOnline[0]]) {
      expect(msg).toMatchObject({ action: 'join', room: 'r1', userId: 'bob' });
      expect(ids(msg)).toEqual(['alice', 'bob']);
      expect(msg.clients).toContainEqual({ id: bob.id, userId: 'bob' });
    }

    // carol, in another room, over polling then websocket
    const carol = join('r2', 'carol', 'upgrade');
    const carolOnline = recorder(carol, 'online');
    const carolGot = recorder(carol, 'exchange');
    await once(carol, 'connect');
    await until(() => carolOnline.length === 1);
    expect(ids(carolOnline[0])).toEqual(['carol']);

    // to the whole room
    await expect(alice.emitWithAck('exchange', { payload: 'hello r1' })).resolves.toEqual({ ok: true });
    const toRoom = { from: { id: alice.id, userId: 'alice' }, target: null, payload: 'hello r1' };
    await until(() => aliceGot.length === 1 && bobGot.length === 1);
    expect(aliceGot).toEqual([toRoom]);
    expect(bobGot).toEqual([toRoom]);

    // to one socket: bob → alice only
    await expect(bob.emitWithAck('exchange', { target: alice.id, payload: 'psst' })).resolves.toEqual({ ok: true });
    await until(() => aliceGot.length === 2);
    expect(aliceGot[1]).toEqual({ from: { id: bob.id, userId: 'bob' }, target: alice.id, payload: 'psst' });
    // bob's own room message comes after the direct one was sent: had he got that, it came first.
    await expect(bob.emitWithAck('exchange', { payload: 'bye soon' })).resolves.toEqual({ ok: true });
    await until(() => bobGot.length === 2 && aliceGot.length === 3);
    expect(bobGot[1]).toMatchObject({ target: null, payload: 'bye soon' });

    // a malformed exchange is dropped by the packet middleware; a target outside the room is
    // refused (alice's packets are handled in order: the drop is done once this is answered)
    alice.emit('exchange', 'not an object');
    await expect(alice.emitWithAck('exchange', { target: carol.id, payload: 'x' })).resolves.toEqual({
      ok: false,
      error: `no ${carol.id} in r1`,
    });

    // carol's room saw none of it: her own message is the first she gets
    await expect(carol.emitWithAck('exchange', { payload: 'r2 only' })).resolves.toEqual({ ok: true });
    await until(() => carolGot.length === 1);
    expect(carolGot).toEqual([{ from: { id: carol.id, userId: 'carol' }, target: null, payload: 'r2 only' }]);

    // bob leaves: alice hears it, with only herself left
    bob.disconnect();
    await until(() => aliceOnline.length === 3);
    expect(aliceOnline[2]).toMatchObject({ action: 'leave', room: 'r1', userId: 'bob' });
    expect(aliceOnline[2].clients).toEqual([{ id: alice.id, userId: 'alice' }]);
    // nothing else reached alice (the malformed exchange was dropped, carol's stayed in r2)
    expect(aliceGot.map((m) => m.payload)).toEqual(['hello r1', 'psst', 'bye soon']);
    expect(carolOnline).toHaveLength(1);
  });

  test('the process logs joins and leaves and exits on SIGTERM', async () => {
    expect(output).toContain('[chat] alice');
    await until(() => output.includes('[chat] bob') && output.includes('left r1'));
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  });
});
