#!/usr/bin/env node
'use strict';
// Side-by-side benchmark (issue 3): socket.io 4.8 vs socket.io-native (socket.io-compatible and
// egg-style APIs) vs a bare Rust ceiling, driven by the Rust load generator in bench/loadgen.
//
//   npm run bench                 full run: 5 rounds, every scenario, rewrites bench/README.md
//   npm run bench -- --quick      smoke: 1 round, small N, < 1 minute, README untouched
// Options: --rounds N, --servers socketio,native,..., --only <scenario-substring>, --readme,
//          --no-readme, --no-build
//
// Fairness on a 2-core machine: the server is pinned to CPU 0 and the load generator to CPU 1;
// servers are interleaved (A B C D, A B C D, ...) so slow drifts in the machine's load hit all of
// them alike; each (server, scenario) gets a fresh server process, so one scenario's heap does not
// leak into the next one's memory numbers.

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const readline = require('readline');

const ROOT = path.resolve(__dirname, '..');
const LOADGEN = path.join(ROOT, 'target', 'release', 'loadgen');
const RESULTS = path.join(__dirname, 'results');
const README = path.join(__dirname, 'README.md');
const CLK_TCK = Number(sh('getconf', ['CLK_TCK'])) || 100;
const SERVER_CPU = '0';
const LOADGEN_CPU = '1';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const QUICK = flag('quick');

// `cluster`: the server can run as one node of a Redis cluster (REDIS_PORT), for cluster scenarios.
const SERVERS = {
  socketio: { label: 'socket.io 4.8', cmd: `exec node ${q(path.join(__dirname, 'servers', 'socketio.js'))}`, cluster: true },
  native: { label: 'native (socket.io API)', cmd: `exec node ${q(path.join(__dirname, 'servers', 'native.js'))}`, cluster: true },
  'native-egg': { label: 'native (egg route)', cmd: `exec node ${q(path.join(__dirname, 'servers', 'native-egg.js'))}` },
  ceiling: { label: 'ceiling (bare Rust)', cmd: `exec ${q(path.join(__dirname, 'servers', 'ceiling'))}` },
};

/**
 * Scenario → loadgen arguments. Quick mode keeps the shapes, shrinks N and the windows.
 * A `cluster` scenario runs two nodes of the server on one redis-server (socket.io with
 * @socket.io/redis-adapter as the reference); the clients alternate between them, one of them
 * broadcasts, and deliveries are counted on both.
 */
function scenarios() {
  const clusterBcast = (n, w) => ({
    key: 'cluster-bcast-30B-k16',
    kind: 'broadcast',
    cluster: true,
    args: ['broadcast', '--n', String(n), '--payload', '30', '--inflight', '16', ...w],
  });
  if (QUICK) {
    const w = ['--warmup-ms', '300', '--duration-ms', '1000'];
    return [
      { key: 'connect-1k', kind: 'connect', args: ['connect', '--n', '1000', '--settle-ms', '500'] },
      { key: 'bcast-30B-k1', kind: 'broadcast', args: ['broadcast', '--n', '200', '--payload', '30', '--inflight', '1', ...w] },
      { key: 'bcast-30B-k16', kind: 'broadcast', args: ['broadcast', '--n', '200', '--payload', '30', '--inflight', '16', ...w] },
      { key: 'echo', kind: 'echo', args: ['echo', '--n', '100', '--payload', '30', ...w] },
      clusterBcast(200, w),
    ];
  }
  const w = ['--warmup-ms', '1000', '--duration-ms', '5000'];
  const bcast = (payload, label, k) => ({
    key: `bcast-${label}-k${k}`,
    kind: 'broadcast',
    args: ['broadcast', '--n', '1000', '--payload', String(payload), '--inflight', String(k), ...w],
  });
  return [
    ...[1000, 5000, 10000].map((n) => ({
      key: `connect-${n / 1000}k`,
      kind: 'connect',
      args: ['connect', '--n', String(n), '--settle-ms', '2000'],
    })),
    bcast(30, '30B', 1),
    bcast(30, '30B', 16),
    bcast(1024, '1KiB', 1),
    bcast(1024, '1KiB', 16),
    { key: 'echo', kind: 'echo', args: ['echo', '--n', '100', '--payload', '30', ...w] },
    clusterBcast(1000, w),
  ];
}

/** The figures reported per scenario kind: [field, label, better ('hi'|'lo'), decimals]. */
const METRICS = {
  connect: [
    ['connects_per_s', 'connects/s', 'hi', 0],
    ['handshake_p50_us', 'handshake p50 µs', 'lo', 0],
    ['handshake_p99_us', 'handshake p99 µs', 'lo', 0],
    ['rss_per_conn_kib', 'RSS/conn KiB', 'lo', 1],
    ['server_cpu_us_per_conn', 'srv CPU µs/conn', 'lo', 0],
    ['loadgen_cpu_util', 'loadgen CPU', 'lo', 2],
  ],
  broadcast: [
    ['deliveries_per_s', 'deliveries/s', 'hi', 0],
    ['latency_p50_us', 'p50 µs', 'lo', 0],
    ['latency_p99_us', 'p99 µs', 'lo', 0],
    ['server_cpu_us_per_delivery', 'srv CPU µs/delivery', 'lo', 3],
    ['loadgen_cpu_util', 'loadgen CPU', 'lo', 2],
  ],
  echo: [
    ['acks_per_s', 'acks/s', 'hi', 0],
    ['latency_p50_us', 'p50 µs', 'lo', 0],
    ['latency_p99_us', 'p99 µs', 'lo', 0],
    ['server_cpu_us_per_ack', 'srv CPU µs/ack', 'lo', 2],
    ['loadgen_cpu_util', 'loadgen CPU', 'lo', 2],
  ],
};

/** Issue 3's targets: ratios of medians measured in the same run. */
const TARGETS = [
  { what: 'connects/s', scen: ['connect-10k', 'connect-1k'], server: 'native', base: 'socketio', field: 'connects_per_s', op: '>=', goal: 4 },
  { what: 'server RSS per idle websocket connection', scen: ['connect-10k', 'connect-1k'], server: 'native', base: 'socketio', field: 'rss_per_conn_kib', op: '<=', goal: 0.5 },
  { what: 'broadcast deliveries/s, 30 B, 16 in flight', scen: ['bcast-30B-k16'], server: 'native', base: 'socketio', field: 'deliveries_per_s', op: '>=', goal: 12 },
  { what: 'broadcast deliveries/s, 1 KiB, 16 in flight', scen: ['bcast-1KiB-k16'], server: 'native', base: 'socketio', field: 'deliveries_per_s', op: '>=', goal: 7 },
  { what: 'broadcast latency p99, 30 B, 1 in flight', scen: ['bcast-30B-k1'], server: 'native', base: 'socketio', field: 'latency_p99_us', op: '<=', goal: 0.5 },
  { what: 'echo acks/s', scen: ['echo'], server: 'native', base: 'socketio', field: 'acks_per_s', op: '>=', goal: 3 },
  { what: 'egg-style route echo vs socket.io-compatible echo', scen: ['echo'], server: 'native-egg', base: 'native', field: 'acks_per_s', op: '>=', goal: 0.9 },
];

function q(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

function sh(cmd, args, opts) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], ...opts }).trim();
  } catch {
    return '';
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** utime + stime of a process (all its threads), in seconds. */
function cpuOfPid(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ", field 3 (state) is index 0: utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

function rssOfPid(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = (/model name\s*:\s*(.*)/.exec(cpuinfo) || [])[1] || 'unknown';
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const ver = (name) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return 'missing';
    }
  };
  const commit = sh('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT });
  const dirty = sh('git', ['status', '--porcelain', '--', 'src', 'js'], { cwd: ROOT }) ? '+dirty' : '';
  return {
    nproc: Number(sh('nproc', [])) || os.cpus().length,
    cpu: model,
    kernel: os.release(),
    node: process.version,
    rustc: sh('rustc', ['-V']),
    'socket.io-native': `${pkg.version} (${commit}${dirty})`,
    'socket.io': ver('socket.io'),
    ws: ver('ws'),
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

/** Starts a server pinned to SERVER_CPU with a raised descriptor limit; resolves once it listens. */
async function startServer(name, port, env = {}) {
  const script = `ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); ${SERVERS[name].cmd}`;
  // taskset and bash both exec, so child.pid is the server's own pid.
  const child = spawn('taskset', ['-c', SERVER_CPU, 'bash', '-c', script], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = [];
  child.stderr.on('data', (d) => {
    stderr.push(d.toString());
    if (stderr.length > 200) stderr.splice(0, 100);
  });
  const exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
  const listening = new Promise((resolve) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      if (line.startsWith('listening')) resolve(true);
    });
  });
  const ok = await Promise.race([listening, exited.then(() => false), sleep(15000).then(() => false)]);
  if (!ok) {
    child.kill('SIGKILL');
    throw new Error(`server ${name} did not start: ${stderr.join('').slice(-2000)}`);
  }
  return { child, pid: child.pid, stderr, exited };
}

async function stopServer(srv) {
  if (srv.child.exitCode === null && srv.child.signalCode === null) {
    srv.child.kill('SIGTERM');
    const t = setTimeout(() => srv.child.kill('SIGKILL'), 3000);
    await srv.exited;
    clearTimeout(t);
  }
  return srv.exited;
}

/** A redis-server for a cluster scenario, on the servers' CPU (it is part of the cluster's cost). */
async function startRedis() {
  const port = await freePort();
  const child = spawn('taskset', ['-c', SERVER_CPU, 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
  const ready = new Promise((resolve) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      if (/ready to accept connections/i.test(line)) resolve(true);
    });
  });
  const ok = await Promise.race([ready, exited.then(() => false), sleep(10000).then(() => false)]);
  if (!ok) {
    child.kill('SIGKILL');
    throw new Error('redis-server did not start (is it installed?)');
  }
  return { child, port, exited };
}

/**
 * The server(s) of one run: one process, or for a cluster scenario two nodes and their Redis.
 * `port` is the first node's (where the broadcasting client connects).
 */
async function startRunServers(serverName, scen) {
  const port = await freePort();
  if (!scen.cluster) {
    const srv = await startServer(serverName, port);
    return { port, nodes: [srv], redis: undefined, extraArgs: [] };
  }
  const redis = await startRedis();
  const nodes = [];
  try {
    const port2 = await freePort();
    nodes.push(await startServer(serverName, port, { REDIS_PORT: String(redis.port) }));
    nodes.push(await startServer(serverName, port2, { REDIS_PORT: String(redis.port) }));
    return { port, nodes, redis, extraArgs: ['--port2', String(port2)] };
  } catch (err) {
    for (const node of nodes) await stopServer(node);
    redis.child.kill('SIGKILL');
    await redis.exited;
    throw err;
  }
}

/** One (server, scenario) run: fresh server(s), one loadgen process, samples at its phase marks. */
async function runOne(serverName, scen, round) {
  const run = await startRunServers(serverName, scen);
  const { port } = run;
  const nodesCpu = () => run.nodes.reduce((sum, node) => sum + cpuOfPid(node.pid), 0);
  const nodesRss = () => run.nodes.reduce((sum, node) => sum + rssOfPid(node.pid), 0);
  // Let the server finish starting (JIT warm-up of the module graph, lazy allocations).
  await sleep(QUICK ? 200 : 500);
  const row = { type: 'run', round, server: serverName, scenario: scen.key, kind: scen.kind };
  row.rss_before_kib = nodesRss();
  const cpuStart = nodesCpu();
  let cpuA = NaN;
  let cpuB = NaN;
  const lg = spawn('taskset', ['-c', LOADGEN_CPU, LOADGEN, ...scen.args, ...run.extraArgs, '--port', String(port)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let lgErr = '';
  lg.stderr.on('data', (d) => (lgErr += d.toString()));
  let result;
  const rl = readline.createInterface({ input: lg.stdout });
  rl.on('line', (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (msg.event === 'measure_start') cpuA = nodesCpu();
    else if (msg.event === 'measure_end') cpuB = nodesCpu();
    else if (msg.event === 'settled') {
      row.rss_settled_kib = nodesRss();
      lg.stdin.write('release\n');
    } else if (msg.type === 'result') result = msg;
  });
  const budgetMs = QUICK ? 30000 : 180000;
  const killer = setTimeout(() => lg.kill('SIGKILL'), budgetMs);
  const [lgCode] = await new Promise((r) => lg.once('exit', (code, sig) => r([code, sig])));
  clearTimeout(killer);
  await new Promise((r) => (rl.closed ? r() : rl.once('close', r)));
  row.server_cpu_total_s = nodesCpu() - cpuStart;
  const alive = run.nodes.every((node) => node.child.exitCode === null && node.child.signalCode === null);
  for (const node of run.nodes) await stopServer(node);
  if (run.redis) {
    run.redis.child.kill('SIGTERM');
    await run.redis.exited;
  }
  const srvErr = run.nodes.map((node) => node.stderr.join('')).join('');

  row.loadgen_exit = lgCode;
  row.server_survived = alive;
  if (srvErr.trim()) row.server_stderr = srvErr.slice(-1500);
  if (lgErr.trim()) row.loadgen_stderr = lgErr.slice(-1500);
  if (!result) {
    row.ok = false;
    row.error = 'no result from loadgen';
    return row;
  }
  // The loadgen names its scenario by kind; the row keeps the runner's key (connect-10k, ...).
  Object.assign(row, result, { type: 'run', scenario: scen.key, kind: scen.kind });
  const cpu = cpuB - cpuA;
  row.server_cpu_s = round3(cpu);
  row.server_cpu_util = round3(cpu / result.window_s);
  if (scen.kind === 'connect') {
    row.rss_per_conn_kib = round3((row.rss_settled_kib - row.rss_before_kib) / result.connected);
    row.server_cpu_us_per_conn = round3((cpu * 1e6) / result.connected);
  } else if (scen.kind === 'broadcast') {
    row.server_cpu_us_per_delivery = round3((cpu * 1e6) / result.deliveries);
  } else if (scen.kind === 'echo') {
    row.server_cpu_us_per_ack = round3((cpu * 1e6) / result.acks);
  }
  row.ok = lgCode === 0 && alive;
  return row;
}

function round3(x) {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null;
}

function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Medians and spread per (scenario, server) over the rounds. */
function summarize(rows, scens, servers) {
  const out = [];
  for (const scen of scens) {
    for (const server of servers) {
      const rs = rows.filter((r) => r.scenario === scen.key && r.server === server);
      if (!rs.length) continue;
      const s = { type: 'summary', scenario: scen.key, kind: scen.kind, server, runs: rs.length, failed_runs: rs.filter((r) => !r.ok).length };
      for (const [field] of METRICS[scen.kind]) {
        const xs = rs.map((r) => r[field]).filter(Number.isFinite);
        if (!xs.length) continue;
        s[field] = round3(median(xs));
        s[`${field}_min`] = round3(Math.min(...xs));
        s[`${field}_max`] = round3(Math.max(...xs));
      }
      out.push(s);
    }
  }
  return out;
}

function fmt(x, decimals) {
  if (!Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 10000) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(decimals);
}

/** One markdown table per scenario; ratio columns compare medians with socket.io's. */
function tables(summary, scens, servers) {
  const lines = [];
  for (const scen of scens) {
    const metrics = METRICS[scen.kind];
    const base = summary.find((s) => s.scenario === scen.key && s.server === 'socketio');
    const rows = servers.map((sv) => summary.find((s) => s.scenario === scen.key && s.server === sv)).filter(Boolean);
    if (!rows.length) continue;
    const primary = metrics[0][0];
    lines.push(`#### ${scen.key}  (\`loadgen ${scen.args.join(' ')}\`)`, '');
    lines.push(`| server | ${metrics.map((m) => m[1]).join(' | ')} | ${metrics[0][1]} vs socket.io | runs (failed) |`);
    lines.push(`|---|${metrics.map(() => '--:').join('|')}|--:|--:|`);
    for (const s of rows) {
      const cells = metrics.map(([f, , , d]) => {
        if (!Number.isFinite(s[f])) return '–';
        const spread = s.runs > 1 ? ` (${fmt(s[`${f}_min`], d)}–${fmt(s[`${f}_max`], d)})` : '';
        return `${fmt(s[f], d)}${spread}`;
      });
      const ratio = base && Number.isFinite(base[primary]) && base[primary] ? `${(s[primary] / base[primary]).toFixed(2)}×` : '–';
      lines.push(`| ${SERVERS[s.server].label} | ${cells.join(' | ')} | ${ratio} | ${s.runs} (${s.failed_runs}) |`);
    }
    lines.push('');
  }
  return lines;
}

/**
 * Each target's verdict is the ratio of the two servers' medians. Beside it, the ratios of the
 * rounds (the two servers ran back to back within a round) show how far one round can move it.
 */
function targets(summary, rows) {
  const out = [];
  for (const t of TARGETS) {
    const scen = t.scen.find((k) => summary.some((s) => s.scenario === k));
    const get = (server) => summary.find((s) => s.scenario === scen && s.server === server);
    const a = scen && get(t.server);
    const b = scen && get(t.base);
    const ratio = a && b && b[t.field] ? a[t.field] / b[t.field] : NaN;
    const pass = Number.isFinite(ratio) ? (t.op === '>=' ? ratio >= t.goal : ratio <= t.goal) : null;
    const inRound = (round, server) => rows.find((r) => r.ok && r.round === round && r.scenario === scen && r.server === server);
    const roundRatios = [...new Set(rows.map((r) => r.round))]
      .map((round) => [inRound(round, t.server), inRound(round, t.base)])
      .filter(([x, y]) => x && y && y[t.field])
      .map(([x, y]) => round3(x[t.field] / y[t.field]));
    out.push({
      type: 'target', what: t.what, scenario: scen || null, field: t.field, server: t.server, base: t.base,
      goal: `${t.op === '>=' ? '≥' : '≤'} ${t.goal}×`, ratio: round3(ratio), pass, round_ratios: roundRatios,
    });
  }
  return out;
}

function targetTable(ts) {
  const lines = ['| target | scenario | goal | measured | rounds (min–max) | |', '|---|---|--:|--:|--:|---|'];
  for (const t of ts) {
    const measured = Number.isFinite(t.ratio) ? `${t.ratio.toFixed(2)}×` : '–';
    const rs = t.round_ratios;
    const spread = rs.length ? `${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}×` : '–';
    const verdict = t.pass === null ? 'n/a' : t.pass ? 'pass' : '**miss**';
    lines.push(`| ${t.what} (${t.server} / ${t.base}) | ${t.scenario || '–'} | ${t.goal} | ${measured} | ${spread} | ${verdict} |`);
  }
  return lines;
}

function rewriteReadme(section) {
  const START = '<!-- bench:results:start -->';
  const END = '<!-- bench:results:end -->';
  let text = fs.existsSync(README) ? fs.readFileSync(README, 'utf8') : `# Benchmark\n\n${START}\n${END}\n`;
  const i = text.indexOf(START);
  const j = text.indexOf(END);
  if (i < 0 || j < i) text = `${text.trimEnd()}\n\n${START}\n${END}\n`;
  const a = text.indexOf(START) + START.length;
  const b = text.indexOf(END);
  text = `${text.slice(0, a)}\n${section.join('\n')}\n${text.slice(b)}`;
  fs.writeFileSync(README, text);
}

async function main() {
  const t0 = Date.now();
  const servers = opt('servers', Object.keys(SERVERS).join(',')).split(',');
  for (const s of servers) if (!SERVERS[s]) throw new Error(`unknown server ${s} (${Object.keys(SERVERS).join(', ')})`);
  const only = opt('only', '');
  const scens = scenarios().filter((s) => !only || s.key.includes(only));
  const rounds = Number(opt('rounds', QUICK ? 1 : 5));

  if (!flag('no-build')) {
    console.log('bench: cargo build --release -p loadgen');
    execFileSync('cargo', ['build', '--release', '-p', 'loadgen'], { cwd: ROOT, stdio: 'inherit' });
  }
  if (!fs.readdirSync(path.join(ROOT, 'js', 'native')).some((f) => f.endsWith('.node'))) {
    console.log('bench: the addon is not built; npm run build');
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  if (!sh('taskset', ['-V'])) throw new Error('taskset (util-linux) is required to pin server and load generator');

  const meta = { type: 'meta', started: new Date().toISOString(), quick: QUICK, rounds, servers, scenarios: scens.map((s) => s.key), machine: machine() };
  console.log(`bench: ${rounds} round(s) × ${scens.length} scenario(s) × ${servers.length} server(s); server on CPU ${SERVER_CPU}, loadgen on CPU ${LOADGEN_CPU}`);
  console.log(`bench: ${meta.machine.nproc} CPUs, ${meta.machine.cpu}, load average ${meta.machine.loadavg}`);

  fs.mkdirSync(RESULTS, { recursive: true });
  const stamp = meta.started.replace(/[:.]/g, '-');
  // A focused run (--only, a subset of servers) is a look, not a record: named so git ignores it.
  const partial = !QUICK && (Boolean(only) || servers.length !== Object.keys(SERVERS).length);
  const outFile = path.join(RESULTS, `${stamp}${QUICK ? '-quick' : partial ? '-partial' : ''}.jsonl`);
  const out = fs.createWriteStream(outFile);
  out.write(`${JSON.stringify(meta)}\n`);

  const rows = [];
  for (let round = 1; round <= rounds; round++) {
    for (const scen of scens) {
      for (const server of servers) {
        if (scen.cluster && !SERVERS[server].cluster) continue;
        let row;
        try {
          row = await runOne(server, scen, round);
        } catch (err) {
          row = { type: 'run', round, server, scenario: scen.key, kind: scen.kind, ok: false, error: String(err.message || err) };
        }
        rows.push(row);
        out.write(`${JSON.stringify(row)}\n`);
        const primary = METRICS[scen.kind][0][0];
        const issues = [];
        if (!row.ok) issues.push(row.error || `loadgen exit ${row.loadgen_exit}${row.server_survived === false ? ', server died' : ''}`);
        if (row.errors && Object.keys(row.errors).length) issues.push(`errors ${JSON.stringify(row.errors)}`);
        if (row.stalled) issues.push('STALLED');
        if (row.server_stderr) issues.push(`server stderr: ${row.server_stderr.trim().split('\n').slice(-3).join(' | ')}`);
        console.log(
          `  r${round} ${scen.key.padEnd(15)} ${server.padEnd(11)} ${METRICS[scen.kind][0][1]} ${fmt(row[primary], 0).padStart(10)}` +
            `  loadgen CPU ${fmt(row.loadgen_cpu_util, 2)}  server CPU ${fmt(row.server_cpu_util, 2)}` +
            (issues.length ? `  !! ${issues.join('; ')}` : ''),
        );
      }
    }
  }

  const summary = summarize(rows, scens, servers);
  const ts = targets(summary, rows);
  for (const s of [...summary, ...ts]) out.write(`${JSON.stringify(s)}\n`);
  await new Promise((r) => out.end(r));

  const m = meta.machine;
  const section = [
    '',
    `Run of ${meta.started}${QUICK ? ' (quick smoke: small N, 1 round; not comparable)' : ''}: ${rounds} round(s), medians with (min–max) over rounds, ` +
      `${Math.round((Date.now() - t0) / 1000)} s. Raw data: \`bench/results/${path.basename(outFile)}\`.`,
    '',
    `Machine: ${m.nproc} CPUs (${m.cpu}), Linux ${m.kernel}, load average at start ${m.loadavg}; node ${m.node}, ${m.rustc}; ` +
      `socket.io-native ${m['socket.io-native']}, socket.io ${m['socket.io']}, ws ${m.ws}. ` +
      `Server pinned to CPU ${SERVER_CPU}, load generator to CPU ${LOADGEN_CPU}.`,
    '',
    '### Targets (issue 3; ratios of medians, same run; beside them the ratios within each round)',
    '',
    ...targetTable(ts),
    '',
    '### Scenarios',
    '',
    ...tables(summary, scens, servers),
  ];
  console.log(section.join('\n'));
  const writeReadme = flag('readme') || (!QUICK && !flag('no-readme') && !only && servers.length === Object.keys(SERVERS).length);
  if (writeReadme) {
    rewriteReadme(section);
    console.log(`bench: bench/README.md updated`);
  }
  const failed = rows.filter((r) => !r.ok);
  console.log(`bench: results in ${path.relative(ROOT, outFile)}`);
  console.log(`bench: ${rows.length - failed.length} runs ok, ${failed.length} failed`);
  process.exitCode = failed.length ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
