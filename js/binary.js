'use strict';

/**
 * Arguments cross to Rust as JSON text; binary values travel beside it as Buffers, replaced in
 * the JSON by socket.io's placeholders `{"_placeholder":true,"num":i}`.
 */

function isBinary(value) {
  return Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

/** JSON would silently turn a function into `null`: refuse to send garbage. */
function assertNotFunction(value) {
  if (typeof value === 'function') {
    throw new TypeError('cannot emit a function (only JSON values and binary data are sent; an ack callback goes last)');
  }
}

/** Also checks, on the way, that nothing is a function (the walk is complete without binary). */
function hasBinary(value, depth = 0) {
  assertNotFunction(value);
  if (!value || typeof value !== 'object' || depth > 256) return false;
  if (isBinary(value)) return true;
  if (Array.isArray(value)) return value.some((item) => hasBinary(item, depth + 1));
  if (typeof value.toJSON === 'function' && depth === 0) return hasBinary(value.toJSON(), 1);
  for (const key in value) {
    if (Object.prototype.hasOwnProperty.call(value, key) && hasBinary(value[key], depth + 1)) return true;
  }
  return false;
}

function toBuffer(value) {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function deconstruct(value, attachments) {
  assertNotFunction(value);
  if (!value || typeof value !== 'object') return value;
  if (isBinary(value)) {
    attachments.push(toBuffer(value));
    return { _placeholder: true, num: attachments.length - 1 };
  }
  if (Array.isArray(value)) return value.map((item) => deconstruct(item, attachments));
  if (typeof value.toJSON === 'function' && !(value instanceof Date)) {
    return deconstruct(value.toJSON(), attachments);
  }
  const out = {};
  for (const key in value) {
    if (Object.prototype.hasOwnProperty.call(value, key)) out[key] = deconstruct(value[key], attachments);
  }
  return out;
}

/**
 * @param {unknown[]} args
 * @returns {{ data: string, attachments: Buffer[] | undefined }}
 */
function encodeArgs(args) {
  if (!hasBinary(args)) return { data: stringify(args), attachments: undefined };
  const attachments = [];
  const data = stringify(deconstruct(args, attachments));
  return { data, attachments };
}

/** JSON.stringify, with an error that says what went wrong (a cycle, a BigInt). */
function stringify(value) {
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw new TypeError(`cannot emit this value: ${err.message}`);
  }
}

function reconstruct(value, attachments) {
  if (!value || typeof value !== 'object') return value;
  if (value._placeholder === true && typeof value.num === 'number') {
    if (value.num >= 0 && value.num < attachments.length) return attachments[value.num];
    throw new Error('illegal attachments');
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = reconstruct(value[i], attachments);
  } else {
    for (const key in value) value[key] = reconstruct(value[key], attachments);
  }
  return value;
}

/**
 * Puts binary attachments back where their placeholders are; throws on a placeholder that
 * points past them (socket.io's "illegal attachments").
 * @param {unknown[]} args
 * @param {Buffer[]} attachments
 * @returns {unknown[]}
 */
function attachBinary(args, attachments) {
  return reconstruct(args, attachments);
}

module.exports = { encodeArgs, attachBinary, hasBinary };
