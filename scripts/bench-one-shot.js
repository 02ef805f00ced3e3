#!/usr/bin/env node
// The one-shot helper children of the addon (native/one_shot_child.cc): probe() (35 throwaway
// children: user namespaces, one per securebit, ptrace) and readUserNsChain() of a task three
// user namespaces down (one child that enters each level), timed for two builds of the addon
// interleaved in one run, so that both share the same load. Prints the median and the spread
// (fastest, slowest) of each and the ratio of the medians.
//
//   cp build/Release/cr_creds.node /tmp/base.node   # in a checkout of the base commit
//   npm run build:native && node scripts/bench-one-shot.js /tmp/base.node
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROUNDS = Number(process.env.ROUNDS || 15);
const CHAIN_CALLS = Number(process.env.CHAIN_CALLS || 20);
const base = process.argv[2];
const head = path.join(__dirname, '..', 'build', 'Release', 'cr_creds.node');
for (const f of [base, head]) {
  if (!f || !fs.existsSync(f)) {
    console.error(`bench-one-shot: no addon at ${f}: usage: node scripts/bench-one-shot.js BASE.node`);
    process.exit(2);
  }
}
const addons = { base: require(path.resolve(base)), head: require(head) };

function nested(depth) {
  const args = [];
  for (let i = 0; i < depth; i++) args.push('unshare', '--user', '--map-root-user');
  return spawn(args[0], [...args.slice(1), 'sleep', '600'], { stdio: 'ignore' });
}

async function leafPid(parent, depth) {
  // unshare execs the next unshare: the pid stays, only the namespace changes.
  const want = depth;
  for (let i = 0; i < 200; i++) {
    try {
      const chain = await addons.head.readUserNsChain(parent.pid);
      if (chain.length === want && fs.readFileSync(`/proc/${parent.pid}/comm`, 'utf8').trim() === 'sleep') return parent.pid;
    } catch {}
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the nested task did not settle');
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

(async () => {
  const child = nested(3);
  try {
    const pid = await leafPid(child, 3);
    const t = { probe: { base: [], head: [] }, chain: { base: [], head: [] } };
    for (let r = 0; r < ROUNDS; r++) {
      for (const which of r % 2 ? ['head', 'base'] : ['base', 'head']) {
        const a = addons[which];
        let t0 = process.hrtime.bigint();
        a.probe();
        t.probe[which].push(Number(process.hrtime.bigint() - t0) / 1e6);
        t0 = process.hrtime.bigint();
        for (let i = 0; i < CHAIN_CALLS; i++) await a.readUserNsChain(pid);
        t.chain[which].push(Number(process.hrtime.bigint() - t0) / 1e6 / CHAIN_CALLS);
      }
    }
    const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
    console.log(`${ROUNDS} rounds interleaved, node ${process.version}, RSS ${rss} MiB, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, ${os.cpus().length} CPUs`);
    for (const [name, label] of [['probe', 'probe()'], ['chain', 'readUserNsChain (3 levels)']]) {
      const row = (w) => `${median(t[name][w]).toFixed(3)} ms (${Math.min(...t[name][w]).toFixed(3)}-${Math.max(...t[name][w]).toFixed(3)})`;
      console.log(`${label.padEnd(28)} base ${row('base')}  head ${row('head')}  head/base ${(median(t[name].head) / median(t[name].base)).toFixed(2)}x`);
    }
  } finally {
    child.kill('SIGKILL');
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
