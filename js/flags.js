'use strict';

/** The flags of an emit, packed as the native emit and broadcast calls take them. */
const VOLATILE = 1;
const NO_COMPRESS = 2;

/** @param {{ volatile?: boolean, compress?: boolean }} flags */
function packetFlags(flags) {
  return (flags.volatile ? VOLATILE : 0) | (flags.compress === false ? NO_COMPRESS : 0);
}

module.exports = { packetFlags };
