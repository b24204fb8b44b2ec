'use strict';

const net = require('net');
const { spawn } = require('child_process');

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something answers PING on `port` (with `password` when given). */
async function waitForPing(port, password, timeoutMs = 10000) {
  const start = Date.now();
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let reply = '';
      socket.on('connect', () => socket.write(password ? `AUTH ${password}\r\nPING\r\n` : 'PING\r\n'));
      socket.on('data', (chunk) => {
        reply += chunk;
        if (reply.includes('PONG')) {
          socket.destroy();
          resolve(true);
        }
      });
      socket.on('error', () => resolve(false));
      socket.setTimeout(500, () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() - start > timeoutMs) throw new Error(`redis-server on port ${port} did not answer`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A real redis-server on a free port, started for the tests and stopped by its PID.
 * `stop()` then `start()` again gives an outage on the same port.
 */
class RedisServer {
  constructor({ password } = {}) {
    this.password = password;
    this.port = undefined;
    this.process = undefined;
  }

  async start() {
    if (this.port === undefined) this.port = await freePort();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    if (this.password) args.push('--requirepass', this.password);
    this.process = spawn('redis-server', args, { stdio: 'ignore' });
    await waitForPing(this.port, this.password);
    return this;
  }

  async stop() {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
}

module.exports = { RedisServer, freePort };
