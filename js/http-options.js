'use strict';

/**
 * engine.io's HTTP-level options turned into what Rust applies: `cors` (the `cors` package's
 * option shape and defaults), `cookie` (the `cookie` package's format) and socket.io's
 * `serveClient`. Whatever needs user code per request (a function or RegExp origin) stays
 * here and is asked through the HTTP hook.
 */

const path = require('path');

/** The `cors` package's defaults. */
const CORS_DEFAULTS = {
  origin: '*',
  methods: 'GET,HEAD,PUT,PATCH,POST,DELETE',
  preflightContinue: false,
  optionsSuccessStatus: 204,
};

const joined = (value) => (value && typeof value.join === 'function' ? value.join(',') : value || undefined);

const needsUserCode = (origin) =>
  typeof origin === 'function' || origin instanceof RegExp || (Array.isArray(origin) && origin.some((o) => o instanceof RegExp));

/** The options Rust reads (`engine::cors::Cors`), once `origin` is a string, a list or a boolean. */
function plainCors(options) {
  const maxAge = typeof options.maxAge === 'number' || options.maxAge ? String(options.maxAge) : undefined;
  return {
    origin: options.origin,
    credentials: options.credentials === true,
    methods: joined(options.methods) || '',
    allowedHeaders: joined(options.allowedHeaders || options.headers),
    exposedHeaders: joined(options.exposedHeaders),
    maxAge,
    optionsSuccessStatus: options.optionsSuccessStatus,
    preflightContinue: Boolean(options.preflightContinue),
  };
}

/**
 * @param {any} cors the `cors` option: options, `true`, or an options delegate `(req, cb)`
 * @returns {{ json: string | undefined, resolve?: (req: import('http').IncomingMessage, done: (answer: string) => void) => void }}
 *   `json` for Rust (`"dynamic"` when `resolve` must be asked per request)
 */
function corsPolicy(cors) {
  if (!cors) return { json: undefined };
  const delegate = typeof cors === 'function' ? cors : (req, cb) => cb(null, cors === true ? {} : cors);
  if (typeof cors !== 'function') {
    const options = { ...CORS_DEFAULTS, ...(cors === true ? {} : cors) };
    if (!needsUserCode(options.origin)) {
      return { json: JSON.stringify(plainCors({ ...options, origin: options.origin || false })) };
    }
  }
  return {
    json: 'dynamic',
    // As the `cors` middleware: an error refuses the request, a falsy origin adds nothing.
    resolve(req, done) {
      delegate(req, (err, given) => {
        if (err) return done('');
        const options = { ...CORS_DEFAULTS, ...given };
        const requestOrigin = req.headers.origin;
        const finish = (err2, origin) => {
          if (err2) return done('');
          if (!origin) return done('null');
          if (needsUserCode(origin)) {
            const list = [].concat(origin);
            const allowed = list.some((o) => (o instanceof RegExp ? o.test(requestOrigin) : o === requestOrigin));
            origin = allowed && requestOrigin ? [requestOrigin] : [];
          }
          done(JSON.stringify(plainCors({ ...options, origin })));
        };
        if (typeof options.origin === 'function') {
          try {
            options.origin(requestOrigin, finish);
          } catch (e) {
            finish(e);
          }
        } else finish(null, options.origin);
      });
    },
  };
}

/**
 * engine.io's `cookie` option as `Set-Cookie` parts: the name, and the attributes the `cookie`
 * package writes after the value, in its order.
 */
function cookieParts(cookie) {
  if (!cookie) return undefined;
  const o = { name: 'io', path: '/', httpOnly: true, sameSite: 'lax', ...(cookie === true ? {} : cookie) };
  let attributes = '';
  if (o.maxAge != null) attributes += `; Max-Age=${Math.floor(o.maxAge)}`;
  if (o.domain) attributes += `; Domain=${o.domain}`;
  if (o.path) attributes += `; Path=${o.path}`;
  if (o.expires) attributes += `; Expires=${o.expires.toUTCString()}`;
  if (o.httpOnly) attributes += '; HttpOnly';
  if (o.secure) attributes += '; Secure';
  if (o.partitioned) attributes += '; Partitioned';
  const priority = typeof o.priority === 'string' ? o.priority.toLowerCase() : undefined;
  if (priority === 'low' || priority === 'medium' || priority === 'high') {
    attributes += `; Priority=${priority[0].toUpperCase()}${priority.slice(1)}`;
  }
  const sameSite = typeof o.sameSite === 'string' ? o.sameSite.toLowerCase() : o.sameSite;
  const sameSites = { true: 'Strict', strict: 'Strict', lax: 'Lax', none: 'None' };
  if (sameSites[sameSite]) attributes += `; SameSite=${sameSites[sameSite]}`;
  return { name: o.name, attributes };
}

/** socket.io-client's `dist/` and version, if the package is installed. */
function clientBundles() {
  try {
    const manifest = require.resolve('socket.io-client/package.json');
    return { dir: path.join(path.dirname(manifest), 'dist'), version: require(manifest).version };
  } catch {
    return undefined;
  }
}

/** The names socket.io serves its client under: `<path>/socket.io(.msgpack|.esm)?(.min)?.js(.map)?`. */
const BUNDLE = /^\/socket\.io(\.msgpack|\.esm)?(\.min)?\.js(\.map)?(?:\?|$)/;

/**
 * Which requests of a shared http.Server are ours, as engine.io and socket.io decide it.
 * @returns {{ engine: (url: string) => boolean, client: (url: string) => boolean }}
 */
function urlMatchers(opts, serveClient) {
  const base = opts.path.replace(/\/$/, '');
  const prefix = opts.addTrailingSlash === false ? base : `${base}/`;
  return {
    engine: (url) => typeof url === 'string' && url.startsWith(prefix),
    client: (url) => serveClient && typeof url === 'string' && url.startsWith(base) && BUNDLE.test(url.slice(base.length)),
  };
}

/** Headers between Rust (`[[name, value], …]`) and header listeners (an object, repeats as arrays). */
function headersObject(pairs) {
  const headers = {};
  for (const [name, value] of pairs) {
    if (name in headers) headers[name] = [].concat(headers[name], value);
    else headers[name] = name.toLowerCase() === 'set-cookie' ? [value] : value;
  }
  return headers;
}

function headerPairs(headers) {
  const pairs = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue;
    for (const one of [].concat(value)) pairs.push([name, String(one)]);
  }
  return pairs;
}

module.exports = { corsPolicy, cookieParts, clientBundles, urlMatchers, headersObject, headerPairs };
