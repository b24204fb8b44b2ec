'use strict';

// Broadcasts with acks (socket.io 4.5+): `io.timeout(ms).emit(ev, ..., (err, responses) => …)` and
// `emitWithAck`, with real clients answering.

const { TRANSPORTS, clientScope } = require('./helpers');

describe.each(Object.keys(TRANSPORTS))('over %s', (transport) => {
  const scope = clientScope(transport);
  let server;

  beforeEach(() => {
    server = scope.start();
  });

  /** n clients that answer `question` with `answer(i, x)` (or never, when it returns undefined). */
  async function answering(n, answer) {
    const connected = [];
    for (let i = 0; i < n; i++) {
      const pair = await scope.connect();
      pair.c.on('question', (x, ack) => {
        const value = answer(i, x);
        if (value !== undefined) ack(value);
      });
      connected.push(pair);
    }
    return connected;
  }

  test('io.timeout(ms).emit collects one response per client', async () => {
    await answering(3, (i, x) => x * 10 + i);
    const [err, responses] = await new Promise((resolve) =>
      server.io.timeout(5000).emit('question', 4, (...result) => resolve(result)),
    );
    expect(err).toBeNull();
    expect(responses.sort()).toEqual([40, 41, 42]);
  });

  test('emitWithAck to a room resolves with the answers of its members only', async () => {
    const [a, , c] = await answering(3, (i) => `client ${i}`);
    a.s.join('r');
    c.s.join('r');
    const responses = await server.io.to('r').timeout(5000).emitWithAck('question', 0);
    expect(responses.sort()).toEqual(['client 0', 'client 2']);
    const fromNamespace = await server.io.of('/').except('r').timeout(5000).emitWithAck('question', 0);
    expect(fromNamespace).toEqual(['client 1']);
  });

  test('a client that does not answer makes it time out, with the answers received so far', async () => {
    await answering(2, (i) => (i === 0 ? 'on time' : undefined));
    const [err, responses] = await new Promise((resolve) =>
      server.io.timeout(300).emit('question', 1, (...result) => resolve(result)),
    );
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('operation has timed out');
    expect(responses).toEqual(['on time']);
    await expect(server.io.timeout(300).emitWithAck('question', 1)).rejects.toThrow('operation has timed out');
  });

  test('no recipient: the callback gets no error and no responses', async () => {
    await answering(1, () => 'x');
    await expect(server.io.to('nobody').timeout(1000).emitWithAck('question', 1)).resolves.toEqual([]);
  });
});
