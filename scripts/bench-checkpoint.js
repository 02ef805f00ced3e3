#!/usr/bin/env node
// Checkpoint speed, side by side with a floor in C (scripts/bench/floor.c, built here with cc)
// that reads the same /proc files and namespace links, and does the same ptrace injection.
//
//   npx tsc -p tsconfig.build.json && npm run build:native && node scripts/bench-checkpoint.js
//
// Prints: one live process (median of ROUNDS) as a ratio to the floor, beside the round trip any
// asynchronous addon call pays (a libuv pool thread woken, then the main thread: a fixed cost the
// C floor, one synchronous loop, does not have), and the ratio with that taken out; a tree of TREE
// processes: wall time (median of TREE_RUNS) beside the C floor doing the same reads process by
// process, and image size beside writing each task in an image of its own (the dedup ratio).
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROUNDS = Number(process.env.ROUNDS || 200);
const TREE = Number(process.env.TREE || 1000);
const TREE_RUNS = Number(process.env.TREE_RUNS || 3);

let lib;
try {
  lib = { ...require('../dist/checkpoint'), ...require('../dist/format'), native: require('../dist/native/binding').native };
} catch (e) {
  console.error('bench-checkpoint: build first: npx tsc -p tsconfig.build.json (' + e.message + ')');
  process.exit(2);
}

function buildFloor() {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-bench-')), 'floor');
  const r = spawnSync('cc', ['-O2', '-o', out, path.join(__dirname, 'bench', 'floor.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('cc floor.c: ' + r.stderr);
  return out;
}

function floor(bin, mode, ...args) {
  const r = spawnSync(bin, [mode, ...args.map(String)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`floor ${mode}: exit ${r.status} ${r.stderr}`);
  return Number(r.stdout.split(' ')[0]);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeIt(fn, rounds = ROUNDS) {
  const t = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return median(t);
}

function startReady(bin, args) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /ready (\d+)/.exec(out);
      if (m) resolve({ child, pid: Number(m[1]) });
    });
    child.on('exit', (c) => reject(new Error(`${bin} exited ${c}`)));
  });
}

async function main() {
  const bin = buildFloor();
  const target = spawn('sleep', ['100000'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
  try {
    const procFloor = floor(bin, 'proc', target.pid, ROUNDS);
    const fullFloor = floor(bin, 'full', target.pid, ROUNDS);
    await lib.checkpoint(target.pid); // warm up (addon load, JIT)
    // The round trip: an addon call with nothing to do (the pool thread woken, the promise settled
    // on the main thread); fs.promises.stat, Node's own, for comparison.
    const trip = await timeIt(() => lib.native().readLiveTasks([]));
    const stat = await timeIt(() => fs.promises.stat('/proc/self'));
    const ours = await timeIt(() => lib.checkpoint(target.pid));
    const oursEncoded = await timeIt(async () => lib.encode(await lib.checkpoint(target.pid)));
    const ratio = (t) => `ratio to floor: ${(t / fullFloor).toFixed(2)}x, less the round trip: ${((t - trip) / fullFloor).toFixed(2)}x`;
    console.log(`one live process, median of ${ROUNDS} (microseconds):`);
    console.log(`  floor, /proc + ns links only (C)       ${procFloor.toFixed(1)}`);
    console.log(`  floor, + securebits over ptrace (C)    ${fullFloor.toFixed(1)}`);
    console.log(`  async round trip (empty addon call)    ${trip.toFixed(1)}   (fs.promises.stat: ${stat.toFixed(1)}), in every figure below`);
    console.log(`  checkpoint(pid)                        ${ours.toFixed(1)}   ${ratio(ours)}`);
    console.log(`  checkpoint(pid) + encode               ${oursEncoded.toFixed(1)}   ${ratio(oursEncoded)}`);
  } finally {
    target.kill('SIGKILL');
  }

  const tree = await startReady(bin, ['tree', String(TREE), '10']);
  try {
    const pids = (await lib.processTree(tree.pid)).map((t) => t.pid);
    const treeFloor = floor(bin, 'list', ...pids) / 1000;
    let image;
    const wall =
      (await timeIt(async () => {
        image = await lib.checkpointTree(tree.pid);
      }, TREE_RUNS)) / 1000;
    const t1 = process.hrtime.bigint();
    const whole = lib.encode(image).byteLength;
    const encodeMs = Number(process.hrtime.bigint() - t1) / 1e6;
    let apart = 0;
    for (const t of image.tasks) apart += lib.encode({ ...image, tasks: [t] }).byteLength;
    console.log(`tree of ${image.tasks.length} processes (fan-out 10):`);
    console.log(`  floor, each process in turn (C)        ${treeFloor.toFixed(0)} ms (${((treeFloor * 1000) / pids.length).toFixed(0)} us a process)`);
    console.log(`  checkpointTree wall time, median of ${TREE_RUNS}  ${wall.toFixed(0)} ms (${((wall * 1000) / image.tasks.length).toFixed(0)} us a process), ratio to floor: ${(wall / treeFloor).toFixed(2)}x; encode ${encodeMs.toFixed(1)} ms`);
    console.log(`  image size                             ${whole} bytes (${(whole / image.tasks.length).toFixed(1)} a task)`);
    console.log(`  each task in an image of its own       ${apart} bytes   dedup ratio: ${(apart / whole).toFixed(1)}x`);
  } finally {
    // Stop the tree by its own pids, leaves first (a killed parent would orphan the rest).
    const pids = (await lib.processTree(tree.pid)).map((t) => t.pid).reverse();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
