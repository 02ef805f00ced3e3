#!/usr/bin/env node
// Checkpoint speed, side by side with a floor in C (scripts/bench/floor.c, built here with cc)
// that reads the same /proc files and namespace links, and securebits the same way: the same
// ptrace injection (the self-restoring stub; the former single-step injection, which a killed
// tracer could leave harmful, is shown for reference), or the same BPF task iterator.
//
//   npx tsc -p tsconfig.build.json && npm run build:native && node scripts/bench-checkpoint.js
//
// Prints, for one live process, our median beside the floor's as a ratio, in BLOCKS blocks of
// ROUNDS, the floor's and ours alternating so that both see the same moments of a shared
// machine; the ratio is the median of the blocks' ratios (each to the floor run just before it).
// First the same reads (securebits skipped), then with securebits over ptrace, then with the BPF
// reader (where this caller may load BPF and the build has it), each beside a floor that reads
// them the same way. Ours is measured after WARMUP calls: the floor is compiled code from its
// first round, our JavaScript is optimized by the JIT after some thousands of calls. Twice: as
// the scheduler places the threads, and all on one CPU (taskset: this script, its helper, the
// floor and the target alike). The floor is one synchronous loop; a checkpoint with the ptrace
// reader hands the ptrace work to the tracer (a wake-up of a sleeping process, which on a VM
// whose idle CPUs halt to the host costs 15-45 us across CPUs) and reads /proc meanwhile; then
// it waits for the tracer's answer on its CPU (at most 0.1 ms, and only where it may run on more
// than one CPU), past that on the event loop. The BPF reader hands nothing off: it reads on the
// calling thread.
// Then a tree of TREE processes, with each reader: wall time beside the C floor doing the same
// reads process by process (for BPF: /proc process by process, every task's securebits in one
// pass, as ours does for a tree; and, for reference, an iterator for each process), in TREE_RUNS
// pairs after TREE_WARMUP trees of ours (the floor's run, then ours; the ratio is
// the median of the pairs'), and image size beside writing each task in an image of its own
// (the dedup ratio).
//
// FLOOR=PATH: a floor already built (where there is no cc).
// BEFORE=DIR: also measures another build of the package (DIR holding its dist/ and build/, an
// older design, say) in the same run, each beside the floor measured with it, and prints both.
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROUNDS = Number(process.env.ROUNDS || 40);
const BLOCKS = Number(process.env.BLOCKS || 15);
const WARMUP = Number(process.env.WARMUP || 3000);
const TREE = Number(process.env.TREE || 1000);
const TREE_RUNS = Number(process.env.TREE_RUNS || 5);
const TREE_WARMUP = Number(process.env.TREE_WARMUP || 5);

function loadLib(root) {
  try {
    const dist = path.join(root, 'dist');
    const readers = typeof require(path.join(dist, 'checkpoint', 'live')).securebitsReader === 'function';
    return { ...require(path.join(dist, 'checkpoint')), ...require(path.join(dist, 'format')), readers };
  } catch (e) {
    console.error(`bench-checkpoint: build ${root} first: npx tsc -p tsconfig.build.json (${e.message})`);
    process.exit(2);
  }
}
const OURS = path.join(__dirname, '..');
let lib = loadLib(process.env.LIB_ROOT || OURS);

function buildFloor() {
  if (process.env.FLOOR) return process.env.FLOOR; // built elsewhere (cross-compiled for a QEMU guest)
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-bench-')), 'floor');
  const r = spawnSync('cc', ['-O2', '-o', out, path.join(__dirname, 'bench', 'floor.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('cc floor.c: ' + r.stderr);
  return out;
}

function floor(bin, mode, ...args) {
  const r = spawnSync(bin, [mode, ...args.map(String)], { encoding: 'utf8' });
  if (r.status === 3) return undefined; // no BPF reader for this caller
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

// One live process, in alternating blocks: the C floor, then ours, for the same reads (/proc and
// the namespace link only: securebits skipped), then with securebits over ptrace.
async function single(bin) {
  const target = spawn('sleep', ['100000'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
  const skip = { unknownSecurebits: 'skip' };
  const ptrace = { securebitsReader: 'ptrace' }; // (a build without readers reads over ptrace)
  const bpf = { securebitsReader: 'bpf' };
  // The BPF rows: where the floor could load its program and the build has the reader.
  const withBpf = lib.readers && floor(bin, 'bpf', target.pid, 1) !== undefined;
  try {
    // Warm up: the floor is compiled code from its first round; ours is JavaScript, optimized by
    // the JIT after some thousands of calls (and the tracer started).
    for (let i = 0; i < WARMUP; i++) {
      await lib.checkpoint(target.pid, ptrace);
      await lib.checkpoint(target.pid, skip);
      if (withBpf) await lib.checkpoint(target.pid, bpf);
    }
    const blocks = { proc: [], skip: [], full: [], step: [], ours: [], encoded: [], stat: [], bpfFloor: [], bpf: [] };
    for (let b = 0; b < BLOCKS; b++) {
      blocks.proc.push(floor(bin, 'proc', target.pid, ROUNDS));
      blocks.skip.push(await timeIt(() => lib.checkpoint(target.pid, skip)));
      blocks.step.push(floor(bin, 'step', target.pid, ROUNDS));
      blocks.full.push(floor(bin, 'full', target.pid, ROUNDS));
      blocks.ours.push(await timeIt(() => lib.checkpoint(target.pid, ptrace)));
      blocks.encoded.push(await timeIt(async () => lib.encode(await lib.checkpoint(target.pid, ptrace))));
      if (withBpf) {
        blocks.bpfFloor.push(floor(bin, 'bpf', target.pid, ROUNDS));
        blocks.bpf.push(await timeIt(() => lib.checkpoint(target.pid, bpf)));
      }
      blocks.stat.push(await timeIt(() => fs.promises.stat('/proc/self')));
    }
    // Each block's ratio to the floor measured just before it; their median and range.
    const ratios = (xs, floors) => xs.map((x, i) => x / floors[i]);
    const summary = (xs, floors) => {
      const r = ratios(xs, floors);
      return { time: median(xs), ratio: median(r), low: Math.min(...r), high: Math.max(...r) };
    };
    return {
      proc: median(blocks.proc),
      full: median(blocks.full),
      step: median(blocks.step),
      skip: summary(blocks.skip, blocks.proc),
      ours: summary(blocks.ours, blocks.full),
      encoded: summary(blocks.encoded, blocks.full),
      bpfFloor: withBpf ? median(blocks.bpfFloor) : undefined,
      bpf: withBpf ? summary(blocks.bpf, blocks.bpfFloor) : undefined,
      stat: median(blocks.stat),
    };
  } finally {
    target.kill('SIGKILL');
  }
}

function printSingle(title, r) {
  const f = (x) => x.toFixed(1).padStart(7);
  const ratio = (s) => `${f(s.time)}   ratio ${s.ratio.toFixed(2)}x (blocks ${s.low.toFixed(2)}-${s.high.toFixed(2)}x)`;
  console.log(`one live process, ${title} (microseconds; medians of ${BLOCKS} blocks of ${ROUNDS}):`);
  console.log(`  floor, /proc + ns links (C)              ${f(r.proc)}`);
  console.log(`  checkpoint(pid), securebits skipped      ${ratio(r.skip)}   (the same reads)`);
  if (r.step !== undefined) console.log(`  floor, + securebits, single step (C)     ${f(r.step)}   (the former injection, for reference)`);
  console.log(`  floor, + securebits over ptrace (C)      ${f(r.full)}`);
  console.log(`  checkpoint(pid), ptrace reader           ${ratio(r.ours)}`);
  console.log(`  checkpoint(pid) + encode, ptrace reader  ${ratio(r.encoded)}`);
  if (r.bpf) {
    console.log(`  floor, + securebits by BPF iterator (C)  ${f(r.bpfFloor)}`);
    console.log(`  checkpoint(pid), BPF reader              ${ratio(r.bpf)}`);
  } else console.log('  BPF reader: not measured (this build has none, or this caller may not load BPF)');
  console.log(`  fs.promises.stat, for scale             ${f(r.stat)}   (Node's own round trip through its pool)`);
}

// One live process, as placed and on one CPU, for the build at root.
async function singles(bin, root, label) {
  lib = loadLib(root);
  printSingle(`${label}threads placed by the scheduler`, await single(bin));
  // The same on one CPU: this script again under taskset, everything it starts inheriting it.
  const pinned = spawnSync('taskset', ['-c', String(os.cpus().length - 1), process.execPath, __filename, '--single-json'], {
    encoding: 'utf8',
    env: { ...process.env, CR_CREDS_FLOOR_BIN: bin, LIB_ROOT: root },
  });
  if (pinned.status === 0) printSingle(`${label}all on one CPU (taskset)`, JSON.parse(pinned.stdout));
  else console.log(`one live process, all on one CPU: not measured (taskset: ${pinned.error ? pinned.error.message : pinned.stderr.trim()})`);
}

async function treeRun(bin, treePid, pids, root, label, reader) {
  lib = loadLib(root);
  // With BPF, the floor reads every task's securebits in one pass, as ours does for a tree.
  const floorMode = reader === 'bpf' ? 'bpfall' : 'list';
  // TREE_RUNS pairs, the floor's run and ours alternating (each ratio to the floor run just
  // before it, as for one process): the median ratio, and the medians of each.
  let image;
  const floors = [];
  const walls = [];
  const pairRatios = [];
  // Warm up, as for one process: the JIT has compiled our JavaScript after a few trees.
  for (let r = 0; r < TREE_WARMUP; r++) await lib.checkpointTree(treePid, { securebitsReader: reader });
  // With BPF, also the floor that runs the iterator for each process in turn.
  const perProcess = [];
  for (let r = 0; r < TREE_RUNS; r++) {
    if (reader === 'bpf') perProcess.push(floor(bin, 'bpflist', ...pids) / 1000);
    floors.push(floor(bin, floorMode, ...pids) / 1000);
    walls.push(
      (await timeIt(async () => {
        image = await lib.checkpointTree(treePid, { securebitsReader: reader });
      }, 1)) / 1000,
    );
    pairRatios.push(walls[r] / floors[r]);
  }
  const treeFloor = median(floors);
  const wall = median(walls);
  const t1 = process.hrtime.bigint();
  const whole = lib.encode(image).byteLength;
  const encodeMs = Number(process.hrtime.bigint() - t1) / 1e6;
  let apart = 0;
  for (const t of image.tasks) apart += lib.encode({ ...image, tasks: [t] }).byteLength;
  console.log(`${label}tree of ${image.tasks.length} processes (fan-out 10), ${reader} reader:`);
  const how = reader === 'bpf' ? '/proc of each process in turn, securebits of all in one BPF pass' : 'each process in turn';
  console.log(`  floor, ${how} (C), median of ${TREE_RUNS}  ${treeFloor.toFixed(0)} ms (${((treeFloor * 1000) / pids.length).toFixed(0)} us a process)`);
  console.log(
    `  checkpointTree wall time, median of ${TREE_RUNS}  ${wall.toFixed(0)} ms (${((wall * 1000) / image.tasks.length).toFixed(0)} us a process), ratio to floor: ${median(pairRatios).toFixed(2)}x (runs ${Math.min(...pairRatios).toFixed(2)}-${Math.max(...pairRatios).toFixed(2)}x); encode ${encodeMs.toFixed(1)} ms`,
  );
  if (perProcess.length) {
    const r = walls.map((w, i) => w / perProcess[i]);
    console.log(`  floor with an iterator for each process (C)  ${median(perProcess).toFixed(0)} ms; ours to it: ${median(r).toFixed(2)}x (runs ${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)}x)`);
  }
  console.log(`  image size                             ${whole} bytes (${(whole / image.tasks.length).toFixed(1)} a task)`);
  console.log(`  each task in an image of its own       ${apart} bytes   dedup ratio: ${(apart / whole).toFixed(1)}x`);
  if (lib.stopTracer) lib.stopTracer();
}

async function main() {
  const bin = process.env.CR_CREDS_FLOOR_BIN || buildFloor();
  if (process.argv[2] === '--single-json') {
    console.log(JSON.stringify(await single(bin)));
    return;
  }
  const builds = process.env.BEFORE ? [[path.resolve(process.env.BEFORE), 'BEFORE: '], [OURS, 'AFTER: ']] : [[OURS, '']];
  for (const [root, label] of builds) await singles(bin, root, label);

  const tree = await startReady(bin, ['tree', String(TREE), '10']);
  try {
    const pids = (await lib.processTree(tree.pid)).map((t) => t.pid);
    for (const [root, label] of builds) {
      await treeRun(bin, tree.pid, pids, root, label, 'ptrace');
      if (loadLib(root).readers && floor(bin, 'bpfall', pids[0]) !== undefined) await treeRun(bin, tree.pid, pids, root, label, 'bpf');
    }
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
