#!/usr/bin/env node
// CLI start-up: `cr-creds checkpoint PID -o FILE`, `cr-creds inspect FILE` and
// `cr-creds validate FILE`, each as a whole process, beside `node -e 0` (the floor every Node
// program pays), interleaved in one run. Prints per command the median wall time, its ratio to
// `node -e 0`'s median and the spread of that ratio (quartiles of each round's ratio: a round's
// runs share the load of their moment); the fastest run (on a loaded machine the least
// disturbed); and the CPU time per process (user + system of all its threads, a mean from the
// children's times this process accumulates), which a busy machine disturbs less than the wall.
// The machine's load average is printed before and after.
// Goal: at most 1.3x for all three.
//
//   npm run build:ts && node scripts/bench-startup.js      (tsc, then the commands' bundles)
//   ROUNDS=60 nice -n -5 node scripts/bench-startup.js     (more rounds; ahead of other work)
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
    console.error(`bench-startup: no ${f}: build first: npm run build:ts`);
    process.exit(2);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-bench-startup-'));
const image = path.join(dir, 'image');
const target = spawn('/bin/sleep', ['600'], { stdio: 'ignore' });

// The user and system time of the children reaped so far, in ms (clock ticks of 10 ms: a mean
// over many runs is exact to a fraction of a ms, a single run's is not).
const TICK_MS = 10;
function childrenCpuMs() {
  const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[13]) + Number(f[14])) * TICK_MS; // cutime, cstime
}

function timed(args) {
  const c0 = childrenCpuMs();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return { ms, cpuMs: childrenCpuMs() - c0 };
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
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const median = (xs) => quantile(xs, 0.5);
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

try {
  timed(cases['checkpoint PID -o FILE']); // the image for inspect and validate; warms the disk cache
  for (const args of Object.values(cases)) timed(args);
  const wall = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const cpu = Object.fromEntries(Object.keys(cases).map((k) => [k, 0]));
  const loadBefore = load();
  for (let i = 0; i < ROUNDS; i++) {
    for (const [k, args] of Object.entries(cases)) {
      const t = timed(args);
      wall[k].push(t.ms);
      cpu[k] += t.cpuMs;
    }
  }
  const floor = wall['node -e 0'];
  const floorMin = Math.min(...floor);
  const floorCpu = cpu['node -e 0'] / ROUNDS;
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${loadBefore} before, ${load()} after; ${ROUNDS} rounds interleaved`);
  // Without bundles (a plain tsc build) each command loads module by module.
  for (const [label, f] of [['', CLI], ['base: ', BASE]].filter(([, f]) => f)) {
    if (!fs.existsSync(path.join(path.dirname(f), 'bundles'))) console.log(`  ${label}${f}: no command bundles (npm run build:ts makes them)`);
  }
  console.log(`  ${''.padEnd(30)} ${'wall median'.padStart(11)}  ${'ratio'.padStart(5)} ${'(quartiles)'.padEnd(11)}  ${'fastest'.padStart(9)}  ${'ratio'.padStart(5)}  ${'CPU mean'.padStart(9)}  ratio`);
  for (const [k, xs] of Object.entries(wall)) {
    const perRound = xs.map((x, i) => x / floor[i]);
    const f = Math.min(...xs);
    const c = cpu[k] / ROUNDS;
    console.log(
      `  ${k.padEnd(30)} ${median(xs).toFixed(1).padStart(8)} ms  ${(median(xs) / median(floor)).toFixed(2)}x ` +
        `(${quantile(perRound, 0.25).toFixed(2)}-${quantile(perRound, 0.75).toFixed(2)})  ` +
        `${f.toFixed(1).padStart(6)} ms  ${(f / floorMin).toFixed(2)}x  ${c.toFixed(1).padStart(6)} ms  ${(c / floorCpu).toFixed(2)}x`,
    );
  }
} finally {
  target.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}
