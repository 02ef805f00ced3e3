#!/usr/bin/env node
// Runs the whole hostile corpus against the built CLI (run `npx tsc -p tsconfig.build.json`
// first) and prints, per class, the outcome, the peak RSS of the CLI process (measured inside
// it) and the time. Goal: no input over 256 MiB RSS; 10^6 tasks inspected (text and JSON) in
// under 30 s; a chain of 100,000 user namespaces shown and dry-run.
//
//   node scripts/hostile-corpus.js [--quick]     (--quick: 10^5 tasks instead of 10^6)
//
// Classes: /dev/zero and an endless FIFO as the image; a FIFO, a link and 63 MiB of zeros in a
// CRIU dump; a link and a file planted by uid 65534 at the output name in a sticky directory (as
// root); chains of 20,000 and 100,000 user namespaces (inspect text, JSON, DOT, SVG, dry-run);
// 10^6 tasks (inspect text and JSON, dry-run, validate).
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const repo = path.join(__dirname, '..');
const runner = path.join(repo, 'test', 'hostile', 'measured-cli.js');
const { ImageBuilder, encode } = require(path.join(repo, 'dist', 'format'));
const { native } = require(path.join(repo, 'dist', 'native', 'binding'));

const quick = process.argv.includes('--quick');
const TASKS = quick ? 100000 : 1000000;
const LIMIT_MIB = 256;

function deepChain(depth) {
  const b = new ImageBuilder();
  let ns = b.rootNs;
  for (let i = 0; i < depth; i++) ns = b.namespace(b.user(0, ns), { uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 1 }] });
  b.task(b.cred({ uid: 0, user: b.user(0, ns) }));
  return encode(b.build());
}

function manyTasks(n) {
  const b = new ImageBuilder();
  // The caller's bounding set: a restart that only lowers it is allowed (the dry-run is judged).
  const c = b.cred({ uid: 1000, gid: 1000, caps: { bounding: native().readThreadCreds().caps.bounding } });
  for (let i = 0; i < n; i++) b.task(c, { pids: { vpid: i + 1, vppid: i === 0 ? 0 : 1, depth: i === 0 ? 0 : 1 } });
  return encode(b.build());
}

/** Runs `cr-creds ARGS` in a process of its own; resolves with its code, peak RSS and time. */
function measure(args, { timeoutMs = 120000, nodeFlags = [] } = {}) {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [...nodeFlags, runner, repo, ...args], { stdio: ['ignore', 'ignore', 'pipe'], cwd: '/' });
    let err = '';
    c.stderr.setEncoding('utf8').on('data', (d) => {
      err += d;
      if (err.length > 1 << 20) err = err.slice(-4096); // a long refusal: keep the end
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      const m = /\nMEASURED (.*)\n$/.exec(err);
      if (!m) return resolve({ code: code ?? -1, rssMiB: NaN, ms: NaN, note: signal ? `killed (${signal})` : err.trim().split('\n').pop() });
      const r = JSON.parse(m[1]);
      const body = err.slice(0, m.index).trim();
      resolve({ code: r.code, rssMiB: r.maxRssKiB / 1024, ms: r.ms, note: body.split('\n')[0].slice(0, 100) });
    });
  });
}

const rows = [];
async function run(cls, args, expectCode, opts) {
  const r = await measure(args, opts);
  const ok = r.code === expectCode && r.rssMiB <= LIMIT_MIB;
  rows.push({ cls, ...r, ok, expectCode });
  const rss = Number.isNaN(r.rssMiB) ? '   ?' : r.rssMiB.toFixed(0).padStart(4);
  const time = Number.isNaN(r.ms) ? '     ?' : (r.ms / 1000).toFixed(2).padStart(6);
  console.log(`${ok ? 'ok  ' : 'OVER'} ${cls.padEnd(44)} exit ${String(r.code).padStart(2)} (want ${expectCode})  ${rss} MiB  ${time} s  ${r.note ?? ''}`);
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-corpus-'));
  fs.chmodSync(dir, 0o755);
  const file = (n) => path.join(dir, n);
  const example = path.join(repo, 'examples', 'example.img');
  console.log(`hostile corpus: peak RSS of the CLI process (limit ${LIMIT_MIB} MiB) and time, per class; ${os.cpus().length} CPUs, node ${process.version}`);
  try {
    // Unbounded inputs.
    for (const cmd of [['validate'], ['inspect'], ['inspect', '--json']]) await run(`/dev/zero: ${cmd.join(' ')}`, [...cmd, '/dev/zero'], 1, { nodeFlags: ['--max-old-space-size=64'] });
    await run('/dev/zero: restart --dry-run', ['restart', '/dev/zero', '--dry-run', '--', 'true'], 1);
    spawnSync('mkfifo', [file('zeros.fifo')]);
    const writer = spawn('sh', ['-c', `exec cat /dev/zero > ${file('zeros.fifo')}`], { stdio: 'ignore' });
    await run('endless FIFO of zeros: validate', ['validate', file('zeros.fifo')], 1);
    writer.kill('SIGKILL');

    // CRIU dump directories.
    const dump = (label) => {
      const d = file(label);
      spawnSync(process.execPath, [path.join(repo, 'dist', 'cli', 'main.js'), 'convert', '--to', 'criu', example, '-o', d]);
      const core = fs.readdirSync(d).find((n) => /^core-\d+\.img$/.test(n));
      return { d, core: path.join(d, core) };
    };
    let x = dump('criu-fifo');
    fs.rmSync(x.core);
    spawnSync('mkfifo', [x.core]);
    await run('CRIU dir: FIFO core (no writer)', ['convert', '--from', 'criu', x.d], 1, { timeoutMs: 15000 });
    x = dump('criu-link');
    fs.rmSync(x.core);
    fs.symlinkSync('/etc/passwd', x.core);
    await run('CRIU dir: core linked to /etc/passwd', ['convert', '--from', 'criu', x.d], 1);
    for (const kind of ['core', 'pstree']) {
      x = dump(`criu-zeros-${kind}`);
      const f = kind === 'core' ? x.core : path.join(x.d, 'pstree.img');
      const head = fs.readFileSync(f).subarray(0, 8);
      const fd = fs.openSync(f, 'w');
      fs.writeSync(fd, head);
      fs.ftruncateSync(fd, 63 << 20);
      fs.closeSync(fd);
      await run(`CRIU dir: 63 MiB ${kind} of zeros`, ['convert', '--from', 'criu', x.d], 1);
    }

    // Writes steered by another uid (root only: the attacker is uid 65534).
    if (process.getuid() === 0) {
      const shared = file('shared');
      fs.mkdirSync(shared, { mode: 0o1777 });
      fs.chmodSync(shared, 0o1777);
      fs.writeFileSync(file('victim'), 'precious\n');
      spawnSync('ln', ['-s', file('victim'), path.join(shared, 'link.img')], { uid: 65534, gid: 65534 });
      spawnSync('sh', ['-c', `umask 0; echo planted > ${path.join(shared, 'planted.img')}`], { uid: 65534, gid: 65534 });
      await run('write: link planted by 65534 (sticky dir)', ['convert', '--from', 'criu', dump('criu-ok').d, '-o', path.join(shared, 'link.img')], 1);
      await run('write: file planted by 65534 (sticky dir)', ['convert', '--from', 'criu', dump('criu-ok2').d, '-o', path.join(shared, 'planted.img')], 1);
      if (fs.readFileSync(file('victim'), 'utf8') !== 'precious\n') throw new Error('the victim file was overwritten');
    }

    // Deep and huge valid images.
    for (const depth of [20000, 100000]) {
      fs.writeFileSync(file(`deep${depth}.img`), deepChain(depth));
      for (const form of [[], ['--json'], ['--dot'], ['--svg']])
        await run(`chain of ${depth}: inspect ${form.join(' ')}`.trimEnd(), ['inspect', ...form, file(`deep${depth}.img`)], 0);
      await run(`chain of ${depth}: restart --dry-run (refused)`, ['restart', file(`deep${depth}.img`), '--dry-run', '--', 'true'], 1);
    }
    fs.writeFileSync(file('many.img'), manyTasks(TASKS));
    console.log(`(${TASKS} tasks: ${(fs.statSync(file('many.img')).size / 1e6).toFixed(1)} MB image)`);
    for (const form of [[], ['--json'], ['--svg']]) await run(`${TASKS} tasks: inspect ${form.join(' ')}`.trimEnd(), ['inspect', ...form, file('many.img')], 0);
    await run(`${TASKS} tasks: restart --dry-run`, ['restart', file('many.img'), '--dry-run', '--', 'true'], 0);
    await run(`${TASKS} tasks: validate`, ['validate', file('many.img')], 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const bad = rows.filter((r) => !r.ok);
  const peak = rows.reduce((m, r) => (r.rssMiB > m ? r.rssMiB : m), 0);
  console.log(`\n${rows.length} classes; peak RSS ${peak.toFixed(0)} MiB (limit ${LIMIT_MIB}); ${bad.length} over the limit or with another exit code${bad.length ? `: ${bad.map((r) => r.cls).join('; ')}` : ''}`);
  const inspect = rows.filter((r) => /tasks: inspect( --json)?$/.test(r.cls));
  for (const r of inspect) console.log(`${r.cls}: ${(r.ms / 1000).toFixed(1)} s (goal: under 30 s)`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
