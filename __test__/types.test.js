'use strict';

// The typings (index.d.ts) compile against a file that uses the whole public API, and reject a
// file of wrong usages (each line marked `// error` must be reported, and no other line).

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const DIR = path.join(__dirname, 'types');

function tsc(project) {
  const run = spawnSync(process.execPath, [TSC, '--noEmit', '--pretty', 'false', '-p', project], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 90000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}`, error: run.error };
}

describe('index.d.ts', () => {
  test('npx tsc --noEmit -p __test__/types compiles the usage file', () => {
    const { status, output, error } = tsc(path.join(DIR, 'tsconfig.json'));
    expect(error).toBeUndefined();
    expect(output).toBe('');
    expect(status).toBe(0);
  }, 120000);

  test('wrong usage fails to compile, on exactly the marked lines', () => {
    const { status, output, error } = tsc(path.join(DIR, 'tsconfig.wrong.json'));
    expect(error).toBeUndefined();
    expect(status).not.toBe(0);
    const source = fs.readFileSync(path.join(DIR, 'wrong.ts'), 'utf8').split('\n');
    const expected = source.flatMap((line, i) => (/\/\/ error$/.test(line) ? [i + 1] : []));
    const reported = [...output.matchAll(/wrong\.ts\((\d+),\d+\): error TS\d+/g)].map((m) => Number(m[1]));
    expect(expected.length).toBeGreaterThan(5);
    expect([...new Set(reported)].sort((a, b) => a - b)).toEqual(expected);
  }, 120000);
});
