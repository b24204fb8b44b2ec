// Compiled (never run) by __test__/types.test.js: every public API of index.d.ts, used as a
// socket.io or egg-socket.io application would.

import * as http from 'http';
import createIo, {
  Adapter,
  BroadcastOperator,
  Client,
  compose,
  Connection,
  DisconnectReason,
  EggContext,
  EggMiddleware,
  Engine,
  Handshake,
  Namespace,
  RouteHandler,
  Server,
  ServerOptions,
  Socket,
  createAdapter,
  RedisOptions,
  RemoteSocket,
  AdapterFactory,
} from 'socket.io-native';
import io = require('socket.io-native');

// --- construction: options only, own port, attach to http.Server, factory -------------------------
const options: ServerOptions = {
  path: '/socket.io',
  pingInterval: 25000,
  pingTimeout: 20000,
  upgradeTimeout: 10000,
  connectTimeout: 45000,
  maxHttpBufferSize: 1e6,
  transports: ['polling', 'websocket'],
  allowUpgrades: true,
  maxBufferedBytes: 16 * 1024 * 1024,
  host: '127.0.0.1',
  generateId: (req) => `${req.headers['x-id'] ?? ''}-${Date.now()}`,
  cors: { origin: '*' },
  serveClient: false,
};
const standalone: Server = new Server(options);
standalone.listen(0);
const port: number | undefined = standalone.port;
const own = new Server(3000, { pingInterval: 1000, allowEIO3: true });
const httpServer = http.createServer((_req, res) => res.end('app'));
const attached = new Server(httpServer, { path: '/ws' });
attached.attach(httpServer).listen(3001);
const viaFactory: Server = createIo(3002);
const viaFactoryOpts: Server = createIo({ path: '/x' });
const viaRequire: io.Server = new io.Server(0);
const viaDefault: Server = io.default(httpServer);
const nothing = new Server(undefined, { path: '/y' });
const resolvedPath: string = standalone.opts.path;
const limit: number = standalone.opts.maxBufferedBytes;
const maybeHttp: http.Server | undefined = attached.httpServer as http.Server | undefined;

// --- engine ---------------------------------------------------------------------------------------
const engine: Engine = standalone.engine;
const count: number = engine.clientsCount;
engine.generateId = async (req: http.IncomingMessage) => String(req.url);
engine.generateId = undefined;
const interval: number = engine.opts.pingInterval;
engine.on('connection', (conn) => conn.on('close', (reason: string) => void [conn.id, conn.transport.name, reason]));
engine.on('connection_error', (err) => void [err.req.url, err.code, err.message, err.context]);
engine.on('headers', (headers, req) => {
  headers['X-Served-By'] = String(req.url);
});
new Server({
  cors: { origin: [/example\.com$/, 'http://localhost:3000'], credentials: true, methods: ['GET', 'POST'], maxAge: 600 },
  cookie: { name: 'io', sameSite: 'strict' },
  httpCompression: { threshold: 2048 },
  addTrailingSlash: false,
  serveClient: false,
});
new Server({ cors: { origin: (origin, cb) => cb(null, origin === 'http://a.com') }, cookie: true, httpCompression: false });

// --- egg-style configuration ----------------------------------------------------------------------
const auth: EggMiddleware = async (ctx, next) => {
  const token = ctx.socket.handshake.query.token;
  if (!token) throw new Error('unauthorized');
  ctx.socket.join('authed');
  await next();
  const reason: DisconnectReason = ctx.args![0];
  ctx.app.logger?.info?.(reason);
};
const packetLog: EggMiddleware = async (ctx, next) => {
  const [event, ...rest] = ctx.packet!;
  const started = Date.now();
  await next();
  console.log(event, rest.length, Date.now() - started);
};
const egg = new Server({
  namespace: {
    '/': { connectionMiddleware: [auth], packetMiddleware: [packetLog] },
    '/chat': { packetMiddleware: [async (_ctx, next) => next()] },
  },
  createContext: (socket, packet) => ({ socket, packet, service: { user: { find: (id: string) => id } } }),
  logger: { error: (...args: any[]) => console.error(...args) },
});
const chat: RouteHandler = async function (ctx) {
  const [message, ack] = ctx.args!;
  this.socket.to('room').emit('chat', message);
  ctx.nsp?.emit('count', ctx.nsp.sockets.size);
  ctx.service.user.find('1');
  if (typeof ack === 'function') ack('ok');
};
egg.route('chat', chat);
egg.of('/chat').route('message', (ctx: EggContext) => ctx.socket.emit('echo', ctx.args));
egg.of('/chat').route('disconnect', async (ctx) => {
  console.log('left', ctx.socket.id, ctx.args);
});
const composed = compose<EggContext>([auth, packetLog]);
composed({ socket: undefined as unknown as Socket }).then(() => undefined);

// --- namespaces and middleware --------------------------------------------------------------------
const main: Namespace = own.sockets;
const admin: Namespace = own.of('/admin', (socket) => socket.emit('hello'));
own.of(/^\/dynamic-\d+$/).on('connection', (socket: Socket) => socket.nsp.name);
own.of((name, authPayload, next) => next(null, name.startsWith('/t-') && authPayload.ok === true));
own.use((socket, next) => (socket.handshake.auth.token ? next() : next(Object.assign(new Error('no'), { data: { code: 1 } }))));
admin.use(async (socket) => {
  socket.data.user = 'x';
});
own.on('new_namespace', (nsp: Namespace) => nsp.name);
const sockets: Map<string, Socket> = admin.sockets;
const adapter: Adapter = admin.adapter;
const rooms: Map<string, Set<string>> = adapter.rooms;
const sids: Map<string, Set<string>> = adapter.sids;
const roomsOf: Set<string> | undefined = adapter.socketRooms('id');
const nspName: string = main.name;
const nspServer: Server = main.server;

// --- broadcasting ---------------------------------------------------------------------------------
const op: BroadcastOperator = own.to('a').to(['b', 'c']).in('d').except('e').volatile.local.compress(false);
op.emit('news', { a: 1 }, Buffer.from('bin'));
own.emit('all', 1);
own.send('msg');
own.write('msg');
own.volatile.emit('v');
own.local.emit('l');
own.compress(true).emit('c');
admin.to('r').emit('x');
admin.except(['r1', 'r2']).emit('y');
admin.in('room').socketsJoin('other');
admin.socketsLeave(['other']);
admin.disconnectSockets(true);
own.socketsJoin('everyone');
own.socketsLeave('everyone');
own.disconnectSockets();
admin.send('s');
admin.write('w');
admin.volatile.emit('v');
admin.local.emit('l');
admin.compress(true).emit('c');
const targetRooms: Set<string> = op.rooms;
const exceptRooms: Set<string> = op.exceptRooms;
const isVolatile: boolean | undefined = op.flags.volatile;
const opNsp: Namespace = op.nsp;
async function listAll(): Promise<number> {
  const a: Set<string> = await own.allSockets();
  const b: Set<string> = await admin.allSockets();
  const c: Set<string> = await admin.to('x').allSockets();
  return a.size + b.size + c.size;
}
op.socketsJoin('z');
op.socketsLeave('z');
op.disconnectSockets(false);

// --- sockets --------------------------------------------------------------------------------------
own.on('connection', (socket) => {
  const id: string = socket.id;
  const hs: Handshake = socket.handshake;
  const headers: http.IncomingHttpHeaders = hs.headers;
  const issued: number = hs.issued;
  const address: string = hs.address;
  const when: string = hs.time;
  const xdomain: boolean = hs.xdomain;
  const secure: boolean = hs.secure;
  const url: string = hs.url;
  const token = hs.auth.token;
  const req: http.IncomingMessage = socket.request;
  const conn: Connection = socket.conn;
  const engineId: string = conn.id;
  const transportName: 'polling' | 'websocket' = conn.transport.name;
  const writable: boolean = conn.transport.writable;
  const revision: 3 | 4 = conn.protocol;
  const state: 'open' | 'closed' = conn.readyState;
  const remote: string = conn.remoteAddress;
  const connReq: http.IncomingMessage = conn.request;
  conn.on('upgrade', (transport) => transport.name);
  const client: Client = socket.client;
  const clientSockets: Map<string, Socket> = client.sockets;
  const closed: boolean = client.closed;
  const nsp: Namespace = socket.nsp;
  const server: Server = socket.server;
  const connected: boolean = socket.connected;
  const disconnected: boolean = socket.disconnected;
  const recovered: boolean = socket.recovered;
  const pending: number = socket.acks.size;
  const joined: Set<string> = socket.rooms;
  const socketAdapter: Adapter = socket.adapter;
  socket.data = { user: 'me' };
  socket.flags = {};

  socket.join('room');
  socket.join(['a', 'b']);
  socket.leave('a');
  socket.emit('hello', 'world', 1, { nested: true });
  socket.emit('question', 'q', (answer: string) => console.log(answer));
  socket.send('message');
  socket.emitWithAck('question', 1).then((answer: unknown) => answer);
  socket.timeout(1000).emit('slow', (err: Error | null, reply?: string) => console.log(err, reply));
  socket.timeout(500).emitWithAck('slow').catch((err: Error) => err.message);
  socket.use(([event, ...args], next) => (event === "forbidden" ? next(new Error("no")) : next()));
  const anyListener = (event: string, ...args: any[]) => [event, args.length];
  socket.onAny(anyListener).prependAny(anyListener).offAny(anyListener).offAny();
  socket.onAnyOutgoing(anyListener).prependAnyOutgoing(anyListener).offAnyOutgoing();
  const anyCount: number = socket.listenersAny().length + socket.listenersAnyOutgoing().length;
  void anyCount;
  socket.server.timeout(1000).emit('question', 1, (err: Error | null, responses: any[]) => [err, responses]);
  socket.nsp.to('room').timeout(1000).emitWithAck('question').then((responses: any[]) => responses.length);
  socket.server.in('room').fetchSockets().then((sockets: Array<Socket | RemoteSocket>) => sockets.map((s) => s.id));
  socket.server.serverSideEmit('hello', 1);
  socket.nsp.adapter.clients(['room'], (err: Error | null, ids: string[]) => [err, ids.length]);
  socket.nsp.adapter.clients((err, ids) => ids.length);
  socket.nsp.adapter.clientRooms(socket.id, (err, rooms) => rooms && rooms.length);
  socket.nsp.adapter.allRooms((err, rooms) => rooms.length);
  socket.nsp.adapter.remoteDisconnect(socket.id, true, (err) => err && err.message);
  socket.nsp.serverSideEmitWithAck('ping').then((responses: any[]) => responses.length);
  socket.write('message');
  socket.volatile.emit('v');
  socket.local.emit('l');
  socket.compress(false).emit('c');
  socket.to('room').emit('others');
  socket.in('room').except('a').emit('others');
  socket.except('a').emit('others');
  socket.broadcast.emit('everyone else');
  socket.on('chat', (msg: string, ack?: (reply: string) => void) => ack?.(msg));
  socket.on('disconnecting', (reason) => console.log(reason, socket.rooms));
  socket.on('disconnect', (reason: DisconnectReason) => console.log(reason));
  socket.once('disconnect', (reason) => reason === 'ping timeout');
  socket.on('error', (err) => err.message);
  const same: Socket = socket.disconnect();
  socket.disconnect(true);
  void [id, headers, issued, address, when, xdomain, secure, url, token, req, engineId, transportName, writable, state];
  void [remote, connReq, clientSockets, closed, nsp, server, connected, disconnected, recovered, pending, joined];
  void [socketAdapter, same];
});
own.on('connect', (socket: Socket) => socket.id);

// --- cluster (Redis) ----------------------------------------------------------------------------
const redisOptions: RedisOptions = { host: '127.0.0.1', port: 6379, auth_pass: 'secret', db: 1, key: 'app', failFast: false };
const eggCluster = new Server(0, { redis: redisOptions });
const midwayCluster = new Server({ adapter: createAdapter({ url: 'redis://127.0.0.1:6379/0', requestsTimeout: 2000 }) });
const plainCluster = new Server(0).adapter(createAdapter({ port: 6380, publishOnSpecificResponseChannel: true }));
const installed: AdapterFactory | undefined = midwayCluster.adapter();
const fakeClient = { publish: () => 1, options: { url: 'redis://127.0.0.1:6379' } };
new Server(0, { adapter: createAdapter(fakeClient, fakeClient, { key: 'app' }) });
eggCluster.fetchSockets().then((all) => all.map((s) => [s.id, s.handshake.address, [...s.rooms], s.data]));
eggCluster.in('room').fetchSockets().then(([first]) => first && first.emit('hi'));
eggCluster.of('/').adapter.allRooms().then((all: Set<string>) => all.size);
eggCluster.of('/').adapter.serverCount().then((n: number) => n);
void [installed, plainCluster];

// --- closing --------------------------------------------------------------------------------------
own.close();
attached.close((err) => err && console.error(err));

void [port, viaFactory, viaFactoryOpts, viaRequire, viaDefault, nothing, resolvedPath, limit, maybeHttp, count];
void [interval, rooms, sids, roomsOf, nspName, nspServer, targetRooms, exceptRooms, isVolatile, opNsp, listAll];
void [sockets];
