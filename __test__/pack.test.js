'use strict';

// `npm pack` must give a tarball that carries the compiled addon for this platform and installs
// into another project with no install script (no Rust toolchain needed on the user's side).

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The environment without the npm_* variables `npm test` sets (they would leak into child npm runs). */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'INIT_CWD' && key !== 'NODE_PATH') env[key] = value;
  }
  return { ...env, ...extra };
}

function npm(args, cwd, timeout) {
  return execFileSync(NPM, args, { cwd, env: cleanEnv(), timeout, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// What the consumer project runs: everything must come from its own node_modules.
const CONSUMER = `
'use strict';
const resolved = require.resolve('socket.io-native');
if (!resolved.startsWith(require('path').join(__dirname, 'node_modules') + require('path').sep)) {
  console.error('socket.io-native resolved outside the project: ' + resolved);
  process.exit(3);
}
const { Server } = require('socket.io-native');
const { io } = require('socket.io-client');
const timer = setTimeout(() => { console.error('timed out'); process.exit(4); }, 15000);
const server = new Server(0);
server.on('connection', (socket) => socket.on('ping-me', (msg, ack) => ack('pong:' + msg)));
const client = io('http://127.0.0.1:' + server.port, { reconnection: false, transports: ['websocket'] });
client.on('connect_error', (err) => { console.error('connect_error', err.message); process.exit(5); });
client.on('connect', () => {
  client.emit('ping-me', 'hi', (answer) => {
    console.log('ACK ' + answer);
    client.disconnect();
    server.close();
    clearTimeout(timer);
  });
});
`;

describe('npm package', () => {
  let tmp;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sionative-pack-'));
  });

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('npm pack ships the compiled addon and installs without scripts into another project', () => {
    const built = fs.readdirSync(path.join(ROOT, 'js', 'native')).filter((f) => f.endsWith('.node'));
    expect(built.length).toBeGreaterThan(0);

    // --ignore-scripts: the addon is already built (prepare would rebuild it under this process).
    const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT, 60000));
    const files = packed[0].files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['js/index.js', 'js/native/native.js', 'index.d.ts', 'package.json']));
    for (const node of built) expect(files).toContain(`js/native/${node}`);
    expect(files.some((f) => f.startsWith('src/') || f.startsWith('target/') || f.startsWith('__test__/'))).toBe(false);
    const tarball = path.join(tmp, packed[0].filename);
    expect(fs.existsSync(tarball)).toBe(true);

    const project = path.join(tmp, 'consumer');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    // The client comes from this repo's node_modules (already installed), so no network is needed.
    const clientDir = fs.realpathSync(path.join(ROOT, 'node_modules', 'socket.io-client'));
    npm(['install', tarball, clientDir, '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock'], project, 120000);
    expect(fs.existsSync(path.join(project, 'node_modules', 'socket.io-native', 'js', 'native', 'native.js'))).toBe(true);
    // Nothing was compiled on install: there is no Rust source in the installed package.
    expect(fs.existsSync(path.join(project, 'node_modules', 'socket.io-native', 'src'))).toBe(false);

    fs.writeFileSync(path.join(project, 'consumer.js'), CONSUMER);
    const run = spawnSync(process.execPath, ['consumer.js'], { cwd: project, env: cleanEnv(), timeout: 30000, encoding: 'utf8' });
    if (run.status !== 0) console.error(run.stdout, run.stderr, run.error);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('ACK pong:hi');
  }, 240000);
});
