// Type definitions for socket.io-native: the socket.io-compatible server (Server, Namespace,
// Socket, BroadcastOperator) and its egg-style layer (namespace config, route(), ctx).
//
// The package is CommonJS: `require('socket.io-native')` is a factory `(srv?, opts?) => Server`
// that also carries every class below as a property, and `.default` is the factory again.
// From TypeScript: `import { Server } from 'socket.io-native'` or `import io from 'socket.io-native'`.

/// <reference types="node" />

import { EventEmitter } from 'events';
import type { IncomingHttpHeaders, IncomingMessage, Server as HttpServer } from 'http';
import type { Server as HttpsServer } from 'https';

/** A room name. */
export type Room = string;

/** Why a socket was disconnected (the argument of its `disconnect` / `disconnecting` events). */
export type DisconnectReason =
  | 'transport error'
  | 'transport close'
  | 'forced close'
  | 'ping timeout'
  | 'parse error'
  | 'server shutting down'
  | 'forced server close'
  | 'client namespace disconnect'
  | 'server namespace disconnect';

export type Transport = 'polling' | 'websocket';

/** What `new Server(srv)` / `io.attach(srv)` accepts: a port, or a Node HTTP server to share. */
export type AttachTarget = number | string | HttpServer | HttpsServer;

/** socket.io middleware: call `next()` to admit, `next(err)` (or throw / reject) to refuse. */
export type SocketMiddleware = (socket: Socket, next: (err?: ExtendedError) => void) => void | Promise<void>;

/** An error passed to a middleware's `next`; `data` reaches the client in `connect_error`. */
export interface ExtendedError extends Error {
  data?: any;
}

/** Decides whether a dynamic namespace `name` is created: call `next(null, true)` to accept. */
export type ParentNspNameMatchFn = (
  name: string,
  auth: { [key: string]: any },
  next: (err: Error | null, success: boolean) => void,
) => void;

/** `generateId(req)`: the id of each new engine.io session (empty, rejected or taken → random). */
export type GenerateId = (req: IncomingMessage) => string | number | Promise<string | number>;

// ---------------------------------------------------------------------------------------------
// egg-style layer
// ---------------------------------------------------------------------------------------------

/** `[event, ...args]` of a packet, as packet middleware and routes see it. */
export type Packet = [string, ...any[]];

/**
 * The context egg-style middleware and routes receive. The default is a small plain object; with
 * the `createContext` option it is whatever that returns (Egg passes a Koa context), with
 * `socket` (and, for packets, `packet` and `args`) assigned onto it.
 */
export interface EggContext {
  socket: Socket;
  /** The Server (default context); an Egg application's context when `createContext` is Egg's. */
  app?: any;
  io?: Server;
  nsp?: Namespace;
  /** `[event, ...args]`; set for packet middleware and routes. */
  packet?: Packet;
  /**
   * The packet's arguments; the client's ack function, if any, stays the last element. In the
   * code after `await next()` of a connection middleware it is `[reason]` of the disconnect.
   */
  args?: any[];
  request?: IncomingMessage;
  [key: string]: any;
}

/**
 * Koa-style middleware. In `connectionMiddleware`, code after `await next()` runs when the socket
 * disconnects, returning without `next()` still admits the socket and a throw refuses it. In
 * `packetMiddleware`, code after `await next()` runs once the routed handler settled and
 * returning without `next()` drops the packet.
 */
export type EggMiddleware<C = EggContext> = (ctx: C, next: () => Promise<void>) => unknown;

/** A route handler: `this` and the argument are both the context. */
export type RouteHandler<C = EggContext> = (this: C, ctx: C) => unknown;

export interface NamespaceConfig {
  connectionMiddleware?: EggMiddleware[];
  packetMiddleware?: EggMiddleware[];
}

/** Builds the context of a connection (`packet` undefined) or of a packet. */
export type CreateContext = (socket: Socket, packet?: Packet) => object;

export interface Logger {
  error(...args: any[]): void;
  warn?(...args: any[]): void;
  info?(...args: any[]): void;
  debug?(...args: any[]): void;
}

/** Composes koa-style middleware into one `(ctx, next?) => Promise<void>`. */
export declare function compose<C = EggContext>(
  middleware: Array<(ctx: C, next: () => Promise<void>) => unknown>,
): (ctx: C, next?: () => Promise<void>) => Promise<void>;

// ---------------------------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------------------------

export interface ServerOptions {
  /** Path the server is served under. @default "/socket.io" */
  path?: string;
  /** Milliseconds between server pings. @default 25000 */
  pingInterval?: number;
  /** Milliseconds to wait for a pong before closing ("ping timeout"). @default 20000 */
  pingTimeout?: number;
  /** Milliseconds a transport upgrade may take. @default 10000 */
  upgradeTimeout?: number;
  /** Milliseconds a client has to join a namespace after the handshake. @default 45000 */
  connectTimeout?: number;
  /** Largest message (and polling body) accepted, in bytes; sent to clients as `maxPayload`. @default 1e6 */
  maxHttpBufferSize?: number;
  /** Transports offered. @default ["polling", "websocket"] */
  transports?: Transport[];
  /** Whether polling clients may upgrade to websocket. @default true */
  allowUpgrades?: boolean;
  /**
   * Whether socket.io-client 2.x (engine.io protocol 3, socket.io protocol 4) may connect too,
   * beside 3.x/4.x clients. Off, their handshake gets HTTP 400 "Unsupported protocol version".
   * @default false
   */
  allowEIO3?: boolean;
  /**
   * Bytes one connection may have queued for sending. Past it, volatile packets are dropped and
   * any other packet disconnects that slow client with "transport error", so memory stays
   * bounded. @default 16777216 (16 MiB)
   */
  maxBufferedBytes?: number;
  /** Interface to bind when listening on its own port. @default all interfaces */
  host?: string;
  /** The id of each new engine.io session (also settable as `io.engine.generateId`). */
  generateId?: GenerateId;
  /** egg-style middleware per namespace: `{ '/': { connectionMiddleware, packetMiddleware } }`. */
  namespace?: { [nsp: string]: NamespaceConfig };
  /** Builds the egg-style `ctx` (the Egg plugin passes one that makes a Koa context). */
  createContext?: CreateContext;
  /** Where errors of egg-style middleware and routes are logged. @default console */
  logger?: Logger;

  /**
   * Decides each new session (the last check of a handshake, as in engine.io): a refusal answers
   * HTTP 403 `{"code":4,"message":err}`.
   */
  allowRequest?: (req: IncomingMessage, fn: (err: string | null | undefined, success: boolean) => void) => void;
  /**
   * Connection state recovery: a client that lost its connection (not one that left on purpose)
   * and comes back within `maxDisconnectionDuration` (ms, default 2 minutes) gets its socket id,
   * rooms and `data` back, plus the packets it missed; `socket.recovered` is then true. With
   * `skipMiddlewares` (default true) a recovered socket skips the namespace middleware. Every
   * stored packet carries its offset as an extra last argument, as in socket.io.
   */
  connectionStateRecovery?: { maxDisconnectionDuration?: number; skipMiddlewares?: boolean };
  /** A child of a dynamic namespace is removed when its last socket leaves. */
  cleanupEmptyChildNamespaces?: boolean;
  /** CORS, with the options of the `cors` npm package (as engine.io). @default false (no CORS headers) */
  cors?: boolean | CorsOptions | CorsOptionsDelegate;
  /** `Set-Cookie: io=<sid>` on polling handshakes (engine.io's defaults: `Path=/; HttpOnly; SameSite=Lax`). */
  cookie?: boolean | CookieOptions;
  /** Compresses polling answers of at least `threshold` bytes (gzip/deflate); `false` turns it off. @default { threshold: 1024 } */
  httpCompression?: boolean | { threshold?: number };
  /** `false`: the path is matched without its trailing slash (`/socket.io` prefix), as engine.io. @default true */
  addTrailingSlash?: boolean;
  /** Serves `<path>/socket.io(.esm)?(.min)?.js(.map)?` from the installed socket.io-client. @default true */
  serveClient?: boolean;
  /**
   * Compresses websocket messages of at least `threshold` bytes for clients that offer
   * permessage-deflate (unless sent with `compress(false)`); accepts compressed client messages.
   * @default false
   */
  perMessageDeflate?: boolean | { threshold?: number };
  /**
   * egg-style cluster configuration (egg-socket.io's `io.redis`): servers on one Redis share
   * broadcasts and cluster requests, in @socket.io/redis-adapter v8's format.
   */
  redis?: RedisOptions;
  /** A cluster adapter, `createAdapter({ host, port, … })` (what `io.adapter(…)` takes). */
  adapter?: AdapterFactory;
}

/** How to reach Redis for the cluster adapter. */
export interface RedisOptions {
  /** `redis://[[user]:password@]host:port[/db]`; wins over the separate fields. */
  url?: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** @default 6379 */
  port?: number;
  username?: string;
  password?: string;
  /** egg-socket.io's (ioredis 3) name for `password`. */
  auth_pass?: string;
  /** The database to SELECT. @default 0 */
  db?: number;
  /** Channel prefix, the same on every server of the cluster. @default "socket.io" */
  key?: string;
  /** Milliseconds cluster requests (fetchSockets, serverSideEmit with ack, …) wait for answers. @default 5000 */
  requestsTimeout?: number;
  /** Answer requests on the asking server's own response channel (as the v8 adapter's option). @default false */
  publishOnSpecificResponseChannel?: boolean;
  /**
   * Whether a Redis that cannot be reached at start is fatal (an uncaught error, as egg-socket.io
   * fails). `false` starts anyway: the server serves its own clients and joins the cluster once
   * Redis answers. @default true
   */
  failFast?: boolean;
}

/** Made by `createAdapter`; only this package's adapters can be installed (they run in Rust). */
export interface AdapterFactory {
  (nsp: Namespace): never;
  readonly redisOptions: RedisOptions;
}

/** The Redis cluster adapter, for `io.adapter(…)` or the `adapter` option. */
export declare function createAdapter(opts?: RedisOptions): AdapterFactory;
/**
 * @socket.io/redis-adapter's signature: the connection settings are read from a node-redis 4 or
 * ioredis client (the clients themselves are not used; Rust opens its own connections).
 */
export declare function createAdapter(
  pubClient: { publish: (...args: any[]) => unknown; options?: object },
  subClient?: unknown,
  opts?: RedisOptions,
): AdapterFactory;

/** `origin` of the `cors` package: allowed origin(s), `true` to reflect, or decided per request. */
export type CorsOrigin =
  | boolean
  | string
  | RegExp
  | Array<string | RegExp>
  | ((origin: string | undefined, cb: (err: Error | null, origin?: boolean | string | RegExp | Array<string | RegExp>) => void) => void);

/** The options of the `cors` npm package. */
export interface CorsOptions {
  /** @default "*" */
  origin?: CorsOrigin;
  /** @default "GET,HEAD,PUT,PATCH,POST,DELETE" */
  methods?: string | string[];
  /** Reflects the request's `Access-Control-Request-Headers` when absent. */
  allowedHeaders?: string | string[];
  exposedHeaders?: string | string[];
  credentials?: boolean;
  maxAge?: number;
  /** Passes preflight requests on to the engine instead of answering them. @default false */
  preflightContinue?: boolean;
  /** @default 204 */
  optionsSuccessStatus?: number;
}

/** The `cors` package's per-request options. */
export type CorsOptionsDelegate = (req: IncomingMessage, cb: (err: Error | null, options?: CorsOptions) => void) => void;

/** engine.io's `cookie` option (the `cookie` package's attributes). */
export interface CookieOptions {
  /** @default "io" */
  name?: string;
  /** @default "/" */
  path?: string | false;
  /** @default true */
  httpOnly?: boolean;
  /** @default "lax" */
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  domain?: string;
  secure?: boolean;
  maxAge?: number;
  expires?: Date;
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

/** What `connection_error` listeners receive: a request engine.io refused. */
export interface EngineConnectionError {
  req: IncomingMessage;
  /** 0 Transport unknown, 1 Session ID unknown, 2 Bad handshake method, 3 Bad request, 4 Forbidden, 5 Unsupported protocol version. */
  code: number;
  message: string;
  context: { [key: string]: any };
}

/** The options after defaults were applied (`io.opts`, `io.engine.opts`). */
export interface ResolvedServerOptions extends ServerOptions {
  path: string;
  pingInterval: number;
  pingTimeout: number;
  upgradeTimeout: number;
  connectTimeout: number;
  maxHttpBufferSize: number;
  transports: Transport[];
  allowUpgrades: boolean;
  allowEIO3: boolean;
  maxBufferedBytes: number;
  addTrailingSlash: boolean;
  serveClient: boolean;
  httpCompression: boolean | { threshold?: number };
  cors: boolean | CorsOptions | CorsOptionsDelegate;
}

// ---------------------------------------------------------------------------------------------
// Server, Engine
// ---------------------------------------------------------------------------------------------

/**
 * `io.engine`: the engine.io server, as far as users look at it. Its events cost nothing until
 * someone listens to them.
 */
export declare class Engine extends EventEmitter {
  constructor(io: Server);
  /** Open engine.io connections. */
  readonly clientsCount: number;
  readonly opts: ResolvedServerOptions;
  /** The session id generator; `undefined` for random ids. */
  generateId: GenerateId | undefined;
  /** Each new engine.io session. */
  on(event: 'connection', listener: (conn: Connection) => void): this;
  /** A refused HTTP request or upgrade. */
  on(event: 'connection_error', listener: (err: EngineConnectionError) => void): this;
  /** The headers of a handshake's answer (polling) or 101 (websocket); changes are sent. */
  on(event: 'initial_headers', listener: (headers: { [name: string]: string | string[] }, req: IncomingMessage) => void): this;
  /** The headers of every transport answer (polling) and 101 (websocket); changes are sent. */
  on(event: 'headers', listener: (headers: { [name: string]: string | string[] }, req: IncomingMessage) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export declare class Server extends EventEmitter {
  /** Not listening yet: call `listen(port)` or `attach(httpServer)`. */
  constructor(opts?: ServerOptions);
  /** Listens on its own port (0 picks a free one; see `io.port`), or shares a Node HTTP server. */
  constructor(srv: AttachTarget | undefined | null, opts?: ServerOptions);

  readonly opts: ResolvedServerOptions;
  readonly engine: Engine;
  /** The main namespace `/`. */
  readonly sockets: Namespace;
  /** The shared Node server, when attached to one. */
  httpServer: HttpServer | HttpsServer | undefined;
  /** The bound port, when listening on its own port. */
  port?: number;

  /** Listens on its own port; everything, HTTP included, is served by Rust. */
  listen(srv: AttachTarget, opts?: ServerOptions): this;
  /** Serves under `path` on an existing HTTP server (the rest of the app is untouched), or a port. */
  attach(srv: AttachTarget, opts?: ServerOptions): this;

  /** A namespace by name, or a parent of dynamic namespaces matched by a RegExp or a function. */
  of(name: string | RegExp | ParentNspNameMatchFn, fn?: (socket: Socket) => void): Namespace;

  /** Middleware of the main namespace. */
  use(fn: SocketMiddleware): this;
  /** egg-style route on the main namespace (`io.of('/').route(...)`). */
  route(event: string, handler: RouteHandler): this;

  /** Broadcasts to every socket of the main namespace (no ack callbacks). */
  emit(event: string, ...args: any[]): boolean;

  on(event: 'connection' | 'connect', listener: (socket: Socket) => void): this;
  on(event: 'new_namespace', listener: (namespace: Namespace) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;

  /** The cluster adapter factory in use, if any. */
  adapter(): AdapterFactory | undefined;
  /** Joins a cluster: every namespace, present and future, shares broadcasts through Redis. */
  adapter(factory: AdapterFactory): this;

  /** Closes every connection and stops listening (closing the shared HTTP server, if any). */
  close(fn?: (err?: Error) => void): void;
}

// ---------------------------------------------------------------------------------------------
// Namespace, BroadcastOperator, Adapter
// ---------------------------------------------------------------------------------------------

export declare class Namespace extends EventEmitter {
  constructor(server: Server, name: string);
  readonly server: Server;
  readonly name: string;
  /** Connected sockets by id. */
  readonly sockets: Map<string, Socket>;
  readonly adapter: Adapter;

  /** Adds a middleware; async functions may also throw to refuse. */
  use(fn: SocketMiddleware): this;
  /** egg-style: handles `event` with `handler(ctx)`, after the packet middleware. Routes on
   * `disconnect`, `disconnecting` and `error` are called for the socket's own lifecycle. */
  route(event: string, handler: RouteHandler): this;

  /** Broadcasts to every socket of the namespace (no ack callbacks). */
  emit(event: string, ...args: any[]): boolean;

  on(event: 'connection' | 'connect', listener: (socket: Socket) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * What a server (for its main namespace) and a namespace offer for broadcasting: each call starts
 * a new `BroadcastOperator` over every socket of the namespace.
 */
export interface BroadcastMethods {
  to(room: Room | Room[]): BroadcastOperator;
  in(room: Room | Room[]): BroadcastOperator;
  except(room: Room | Room[]): BroadcastOperator;
  send(...args: any[]): boolean;
  write(...args: any[]): boolean;
  readonly volatile: BroadcastOperator;
  readonly local: BroadcastOperator;
  compress(compress: boolean): BroadcastOperator;
  allSockets(): Promise<Set<string>>;
  socketsJoin(room: Room | Room[]): void;
  socketsLeave(room: Room | Room[]): void;
  disconnectSockets(close?: boolean): void;
  /** A broadcast whose acks are awaited `ms` milliseconds. */
  timeout(ms: number): BroadcastOperator;
  fetchSockets(): Promise<Array<Socket | RemoteSocket>>;
  /**
   * Emits to the other servers of the cluster; an ack callback last gets `(err, responses)` (no
   * responses while this server is alone).
   */
  serverSideEmit(event: string, ...args: any[]): boolean;
  serverSideEmitWithAck(event: string, ...args: any[]): Promise<any[]>;
}

export interface Server extends BroadcastMethods {}
export interface Namespace extends BroadcastMethods {}

export interface BroadcastFlags {
  volatile?: boolean;
  compress?: boolean;
  local?: boolean;
}

/** Flags of a socket's next emit. */
export interface SocketFlags extends BroadcastFlags {
  /** ms to wait for the ack (set by `socket.timeout(ms)`). */
  timeout?: number;
}

/** An immutable broadcast description; every chained call returns a new operator. */
export declare class BroadcastOperator {
  constructor(nsp: Namespace, rooms?: Set<Room>, exceptRooms?: Set<Room>, flags?: BroadcastFlags);
  readonly nsp: Namespace;
  readonly rooms: Set<Room>;
  readonly exceptRooms: Set<Room>;
  readonly flags: BroadcastFlags;

  to(room: Room | Room[]): BroadcastOperator;
  in(room: Room | Room[]): BroadcastOperator;
  except(room: Room | Room[]): BroadcastOperator;
  compress(compress: boolean): BroadcastOperator;
  readonly volatile: BroadcastOperator;
  readonly local: BroadcastOperator;
  /**
   * Sends to every selected socket. With a callback last, it gets `(err, responses)` once every
   * recipient acked, or an error when `timeout(ms)` passed (socket.io 4.5+).
   */
  emit(event: string, ...args: any[]): boolean;
  /** Acks of the next emit are awaited `ms` milliseconds. */
  timeout(ms: number): BroadcastOperator;
  /** `emit` with an ack, as a Promise of every recipient's response. */
  emitWithAck(event: string, ...args: any[]): Promise<any[]>;
  /** The selected sockets (on this server, the `Socket` objects themselves). */
  fetchSockets(): Promise<Array<Socket | RemoteSocket>>;
  allSockets(): Promise<Set<string>>;
  socketsJoin(room: Room | Room[]): void;
  socketsLeave(room: Room | Room[]): void;
  disconnectSockets(close?: boolean): void;
}

/** A socket of another server of the cluster, as `fetchSockets` returns it. */
export interface RemoteSocket {
  readonly id: string;
  readonly handshake: Handshake;
  readonly rooms: Set<Room>;
  readonly data: any;
  emit(event: string, ...args: any[]): boolean;
  join(room: Room | Room[]): void;
  leave(room: Room | Room[]): void;
  disconnect(close?: boolean): this;
}

/** A read view of one namespace's rooms (Rust owns them); each read crosses into Rust. */
export interface Adapter {
  readonly nsp: Namespace;
  /** room → socket ids */
  readonly rooms: Map<Room, Set<string>>;
  /** socket id → rooms */
  readonly sids: Map<string, Set<Room>>;
  socketRooms(id: string): Set<Room> | undefined;
  /** How many servers share the namespaces (1 until a cluster adapter is used). */
  serverCount(): Promise<number>;
  // socket.io 2 era calls (socket.io-adapter 1.x / socket.io-redis 5 shapes), for Egg apps.
  /** Ids of the sockets in any of `rooms` (every socket without rooms). */
  clients(fn: (err: Error | null, ids: string[]) => void): void;
  clients(rooms: Room[], fn: (err: Error | null, ids: string[]) => void): void;
  /** The rooms of socket `id`, or null when there is no such socket. */
  clientRooms(id: string, fn: (err: Error | null, rooms: Room[] | null) => void): void;
  allRooms(fn: (err: Error | null, rooms: Room[]) => void): void;
  /** Every room of the namespace, on every server of the cluster. */
  allRooms(): Promise<Set<Room>>;
  /** Disconnects socket `id`; an error when no such socket is found. */
  remoteDisconnect(id: string, close: boolean, fn?: (err: Error | null) => void): void;
}

// ---------------------------------------------------------------------------------------------
// Socket, Client, Connection
// ---------------------------------------------------------------------------------------------

export interface Handshake {
  headers: IncomingHttpHeaders;
  /** When the handshake happened, as a date string. */
  time: string;
  address: string;
  xdomain: boolean;
  secure: boolean;
  /** When the handshake happened, in ms since the epoch. */
  issued: number;
  url: string;
  query: { [key: string]: string | string[] | undefined };
  /** The client's `auth` payload. */
  auth: { [key: string]: any };
}

/** `socket.conn`: the engine.io connection under a socket. */
export interface Connection extends EventEmitter {
  /** The engine.io session id. */
  readonly id: string;
  /** The current transport; `writable` is false while a packet sent now would have to wait. */
  readonly transport: { readonly name: Transport; readonly writable: boolean };
  readonly readyState: 'open' | 'closed';
  /** The engine.io protocol revision: 3 for a socket.io-client 2.x (`allowEIO3`), else 4. */
  readonly protocol: 3 | 4;
  readonly remoteAddress: string;
  readonly request: IncomingMessage;
  close(): void;
  on(event: 'upgrade', listener: (transport: { name: Transport }) => void): this;
  on(event: 'close', listener: (reason: string) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** One client connection, shared by the sockets it opens in several namespaces. */
export interface Client {
  readonly server: Server;
  /** The connection's key in the native server. */
  readonly id: number;
  /** Its sockets by namespace name. */
  readonly sockets: Map<string, Socket>;
  readonly closed: boolean;
  readonly conn: Connection;
  readonly request: IncomingMessage;
  handshake(auth: { [key: string]: any }): Handshake;
  /** Disconnects every socket of this client, then closes the connection. */
  disconnectAll(): void;
}

/**
 * A client's connection to one namespace. A plain, extensible object (integrations assign their
 * own fields; declare them by merging into this interface).
 */
export declare class Socket extends EventEmitter {
  constructor(nsp: Namespace, client: Client, id: string, auth: { [key: string]: any });
  readonly nsp: Namespace;
  readonly server: Server;
  readonly client: Client;
  readonly id: string;
  /** Free-form data attached to the socket. */
  data: any;
  readonly connected: boolean;
  readonly disconnected: boolean;
  /** Always false: connection state recovery is not supported yet. */
  readonly recovered: boolean;
  /** Pending acks of this socket's emits, by ack id. */
  readonly acks: Map<number, (...args: any[]) => void>;
  /** Flags for the next `emit` (set by `volatile`, `local`, `compress`, `timeout`). */
  flags: SocketFlags;
  readonly conn: Connection;
  readonly adapter: Adapter;
  readonly handshake: Handshake;
  /** The handshake request, as an `http.IncomingMessage` (what Egg/Koa build a context from). */
  readonly request: IncomingMessage;
  /** The rooms this socket is in (its own id included). */
  readonly rooms: Set<Room>;

  /** Sends an event; if the last argument is a function, it is called with the client's ack. */
  emit(event: string, ...args: any[]): boolean;
  /** `emit` with an ack, as a Promise of the client's answer (rejects after `timeout(ms)`). */
  emitWithAck(event: string, ...args: any[]): Promise<any>;
  /** The next emit's ack gets `(err, ...args)`: an Error once `ms` passed without an answer. */
  timeout(ms: number): this;

  /**
   * Packet middleware: runs for each event from the client with `[event, ...args]` (the ack
   * function last, if any); an error passed to `next` becomes the socket's `error` event.
   */
  use(fn: (packet: any[], next: (err?: Error) => void) => void): this;
  /** Called with `(event, ...args)` for every event from the client, before the middleware. */
  onAny(listener: (event: string, ...args: any[]) => void): this;
  prependAny(listener: (event: string, ...args: any[]) => void): this;
  /** Removes one listener, or all of them without an argument. */
  offAny(listener?: (event: string, ...args: any[]) => void): this;
  listenersAny(): Array<(event: string, ...args: any[]) => void>;
  /** Called with `(event, ...args)` for every event sent to this client, broadcasts included. */
  onAnyOutgoing(listener: (event: string, ...args: any[]) => void): this;
  prependAnyOutgoing(listener: (event: string, ...args: any[]) => void): this;
  offAnyOutgoing(listener?: (event: string, ...args: any[]) => void): this;
  listenersAnyOutgoing(): Array<(event: string, ...args: any[]) => void>;
  send(...args: any[]): boolean;
  write(...args: any[]): boolean;

  /** Broadcasts to a room, excluding this socket. */
  to(room: Room | Room[]): BroadcastOperator;
  in(room: Room | Room[]): BroadcastOperator;
  except(room: Room | Room[]): BroadcastOperator;
  /** Broadcasts to the whole namespace, excluding this socket. */
  readonly broadcast: BroadcastOperator;
  readonly volatile: this;
  readonly local: this;
  compress(compress: boolean): this;

  join(rooms: Room | Room[]): void;
  leave(room: Room): void;
  /** Leaves the namespace; with `close`, closes the whole connection (every namespace). */
  disconnect(close?: boolean): this;

  on(event: 'disconnect' | 'disconnecting', listener: (reason: DisconnectReason) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'disconnect' | 'disconnecting', listener: (reason: DisconnectReason) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

// ---------------------------------------------------------------------------------------------
// the module
// ---------------------------------------------------------------------------------------------

/** `require('socket.io-native')(srv, opts)`, as with socket.io. */
declare function createServer(opts?: ServerOptions): Server;
declare function createServer(srv: AttachTarget | undefined | null, opts?: ServerOptions): Server;

export default createServer;
