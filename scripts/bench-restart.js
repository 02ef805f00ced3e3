#!/usr/bin/env node
// Restart speed: restart-and-exit of /bin/true with a typical image (a user with groups, no
// capabilities), beside child_process.spawn('/bin/true') and beside setpriv(1) applying the same
// ids, groups and capabilities, measured in the same run, interleaved, as root.
//
//   npx tsc -p tsconfig.build.json && npm run build:native && node scripts/bench-restart.js
//
// Prints the median wall time of each (spawn until the exit is seen) and the ratios.
// Goal: restart within 1.3x of plain spawn, and faster than setpriv.
'use strict';
const { spawn } = require('child_process');

const ROUNDS = Number(process.env.ROUNDS || 300);

let lib;
try {
  lib = { ...require('../dist/restart'), ...require('../dist/format'), ...require('../dist/native/binding') };
} catch (e) {
  console.error('bench-restart: build first: npx tsc -p tsconfig.build.json (' + e.message + ')');
  process.exit(2);
}
if (process.getuid() !== 0) {
  console.error('bench-restart: run as root (the image asks for another uid)');
  process.exit(2);
}

const me = lib.native().readThreadCreds();
const GROUPS = [4, 24, 27, 1000];
const b = new lib.ImageBuilder();
b.task(b.cred({ uid: 1000, gid: 1000, groups: GROUPS, caps: { bounding: me.caps.bounding } }));
const bytes = lib.encode(b.build());

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function viaSpawn(cmd, args) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

const cases = {
  'child_process.spawn /bin/true': () => viaSpawn('/bin/true', []),
  'restart(image) /bin/true': async () => {
    const r = await lib.restart(bytes, '/bin/true', [], { stdio: 'ignore' });
    if (r.exitCode !== 0) throw new Error('restart: exit ' + r.exitCode);
  },
  'setpriv (same ids, groups, caps) /bin/true': () =>
    viaSpawn('/usr/bin/setpriv', [
      '--reuid=1000', '--regid=1000', `--groups=${GROUPS.join(',')}`,
      '--inh-caps=-all', '--ambient-caps=-all', '/bin/true',
    ]),
};

async function main() {
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const fn of Object.values(cases)) await fn(); // warm-up
  for (let i = 0; i < ROUNDS; i++) {
    for (const [name, fn] of Object.entries(cases)) {
      const t0 = process.hrtime.bigint();
      await fn();
      times[name].push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const base = m['child_process.spawn /bin/true'];
  console.log(`restart-and-exit, median of ${ROUNDS} interleaved rounds (us):`);
  for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(44)} ${v.toFixed(0).padStart(7)}  ${(v / base).toFixed(2)}x spawn`);
  console.log(`restart / spawn:   ${(m['restart(image) /bin/true'] / base).toFixed(2)}x (goal <= 1.3x)`);
  console.log(`restart / setpriv: ${(m['restart(image) /bin/true'] / m['setpriv (same ids, groups, caps) /bin/true']).toFixed(2)}x (goal < 1x)`);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
