'use strict';

/**
 * Sharing a Node `http.Server`: requests under the engine path go to Rust, everything else to
 * the app's own listeners. Websocket upgrades are handed to Rust as a duplicated descriptor, so
 * their frames never pass through JS (over TLS they are relayed, see tls-relay.js); polling
 * requests are parsed by Node and answered by Rust.
 */

const { urlMatchers } = require('./http-options');
const { LoopbackPairs, relayTls } = require('./tls-relay');

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      if (size > limit) return;
      size += chunk.length;
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * @param {import('./server').Server} io
 * @param {import('http').Server} httpServer
 */
function attachToHttpServer(io, httpServer) {
  const native = io._native;
  const matches = urlMatchers(io.opts, Boolean(io._clientBundles));
  const appListeners = httpServer.listeners('request').slice();
  httpServer.removeAllListeners('request');

  const onRequest = (req, res) => {
    if (!matches.client(req.url) && !matches.engine(req.url)) {
      for (const listener of appListeners) listener.call(httpServer, req, res);
      return;
    }
    const body = req.method === 'POST' ? readBody(req, io.opts.maxHttpBufferSize) : Promise.resolve(Buffer.alloc(0));
    body
      .then((buffer) =>
        native.handleRequest(
          {
            method: req.method,
            url: req.url,
            headers: req.rawHeaders,
            remoteAddress: req.socket.remoteAddress || '',
            secure: Boolean(req.socket.encrypted),
          },
          buffer,
        ),
      )
      .then(
        (response) => {
          res.writeHead(response.status, [...response.headers, 'Content-Length', String(response.body.length)]);
          res.end(response.body);
        },
        () => {
          if (!res.headersSent) res.writeHead(500);
          res.end();
        },
      );
  };

  /** @type {LoopbackPairs | undefined} made by the first websocket over TLS */
  let tlsPairs;
  const onUpgrade = (req, socket, head) => {
    if (!matches.engine(req.url)) return;
    const handOver = (fd, secure) =>
      native.handleUpgrade(fd, req.url, req.rawHeaders, head, socket.remoteAddress || '', secure);
    if (socket.encrypted) {
      if (!tlsPairs) tlsPairs = new LoopbackPairs();
      relayTls(tlsPairs, handOver, socket);
      return;
    }
    const fd = socket._handle && socket._handle.fd;
    if (typeof fd !== 'number' || fd < 0) {
      // No descriptor to hand over (an unusual socket wrapper): refuse rather than hang.
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    try {
      handOver(fd, false);
    } finally {
      socket.destroy();
    }
  };

  httpServer.on('request', onRequest);
  httpServer.on('upgrade', onUpgrade);

  return () => {
    httpServer.removeListener('request', onRequest);
    httpServer.removeListener('upgrade', onUpgrade);
    if (tlsPairs) tlsPairs.close();
    for (const listener of appListeners) httpServer.on('request', listener);
  };
}

module.exports = { attachToHttpServer };
