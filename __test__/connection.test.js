'use strict';

const { TRANSPORTS, startServer, client, once, settled } = require('./helpers');

describe.each(Object.keys(TRANSPORTS))('over %s', (transport) => {
  let server;
  let socket;

  beforeEach(() => {
    server = startServer();
  });

  afterEach(() => {
    if (socket) socket.disconnect();
    server.io.close();
  });

  test('connects, gets the socket id, echoes with an ack', async () => {
    const seen = new Promise((resolve) => {
      server.io.on('connection', (s) => {
        s.on('echo', (msg, ack) => ack(msg));
        resolve(s);
      });
    });
    socket = client(server.url, TRANSPORTS[transport]);
    await once(socket, 'connect');
    const serverSocket = await seen;
    expect(serverSocket.id).toBe(socket.id);
    await settled(socket, transport);
    await expect(socket.emitWithAck('echo', { nested: [1, 'two'] })).resolves.toEqual({ nested: [1, 'two'] });
    expect(socket.io.engine.transport.name).toBe(transport === 'polling' ? 'polling' : 'websocket');
  });
});
