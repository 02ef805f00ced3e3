#!/usr/bin/env node
// CLI start-up: `cr-creds checkpoint PID -o FILE`, `cr-creds inspect FILE` and
// `cr-creds validate FILE`, each as a whole process, beside `node -e 0` (the floor every Node
// program pays), interleaved in one run. Prints the median wall time of each and its ratio to
// `node -e 0`; the fastest run of each too (on a loaded machine the least disturbed).
// Goal: at most 1.3x for all three.
//
//   npx tsc -p tsconfig.build.json && node scripts/bench-startup.js
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROUNDS = Number(process.env.ROUNDS || 30);
// CR_CREDS_CLI: another build's main.js, e.g. to compare with a checkout of an earlier commit.
// CR_CREDS_CLI_BASE: a second build measured in the same run, interleaved (its rows marked
// 'base'), so that a before and an after share the same load.
const CLI = process.env.CR_CREDS_CLI || path.join(__dirname, '..', 'dist', 'cli', 'main.js');
const BASE = process.env.CR_CREDS_CLI_BASE;
for (const f of [CLI, BASE].filter(Boolean)) {
  if (!fs.existsSync(f)) {
    console.error(`bench-startup: no ${f}: build first: npx tsc -p tsconfig.build.json`);
    process.exit(2);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-bench-startup-'));
const image = path.join(dir, 'image');
const target = spawn('/bin/sleep', ['600'], { stdio: 'ignore' });

function timed(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

const cases = {
  'node -e 0': ['-e', '0'],
  'checkpoint PID -o FILE': [CLI, 'checkpoint', String(target.pid), '-o', image],
  // The same without reading securebits: what the ptrace helper's start costs, apart.
  'checkpoint --skip-securebits': [CLI, 'checkpoint', String(target.pid), '--skip-securebits', '-o', image],
  'inspect FILE': [CLI, 'inspect', image],
  'validate FILE': [CLI, 'validate', image],
};
if (BASE) {
  Object.assign(cases, {
    'base: checkpoint PID -o FILE': [BASE, 'checkpoint', String(target.pid), '-o', `${image}.base`],
    'base: inspect FILE': [BASE, 'inspect', image],
    'base: validate FILE': [BASE, 'validate', image],
  });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  timed(cases['checkpoint PID -o FILE']); // the image for inspect and validate; warms the disk cache
  for (const args of Object.values(cases)) timed(args);
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < ROUNDS; i++) for (const [k, args] of Object.entries(cases)) times[k].push(timed(args));
  const floor = median(times['node -e 0']);
  const floorMin = Math.min(...times['node -e 0']);
  console.log(`node ${process.version}, ${ROUNDS} rounds interleaved, wall time per process (median; fastest):`);
  for (const [k, xs] of Object.entries(times)) {
    const m = median(xs);
    const f = Math.min(...xs);
    console.log(`  ${k.padEnd(30)} ${m.toFixed(1).padStart(7)} ms  ${(m / floor).toFixed(2)}x node -e 0;  ${f.toFixed(1).padStart(7)} ms  ${(f / floorMin).toFixed(2)}x`);
  }
} finally {
  target.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}
