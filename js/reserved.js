'use strict';

/** Event names that socket.io refuses to emit, because they mean something to the library. */
const RESERVED_EVENTS = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
]);

function assertNotReserved(event) {
  if (RESERVED_EVENTS.has(event)) throw new Error(`"${String(event)}" is a reserved event name`);
}

module.exports = { RESERVED_EVENTS, assertNotReserved };
