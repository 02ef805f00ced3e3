// Progress of `checkpoint --tree` over a tree of a few hundred sleeping processes: nothing on a
// piped stderr, in-place updates erased at the end on a (fake) terminal; and the library's
// onProgress callback underneath.
import { spawn, type ChildProcess } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import { PassThrough, Writable } from 'stream';
import { main } from '../../lib/cli/main';
import { checkpointTree, type CheckpointProgress } from '../../lib/checkpoint';
import { decode } from '../../lib/format';

const N = 300;
let shell: ChildProcess | undefined;
let root = 0;

/** Every pid in root's process group (the shell and its sleeps), from /proc. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // f[0] state, f[2] pgrp; a zombie is gone as far as we are concerned.
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

beforeAll(async () => {
  // A shell of its own process group starts N sleeps (no job control: they stay in its group).
  shell = spawn('sh', ['-c', `i=0; while [ $i -lt ${N} ]; do sleep 1000 & i=$((i+1)); done; echo ready; wait`], {
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  root = shell.pid as number;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the process tree did not start')), 20000);
    shell!.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    shell!.on('exit', (code) => reject(new Error(`sh exited ${code}`)));
  });
}, 30000);

afterAll(async () => {
  if (!shell || !root) return;
  const exited = new Promise((r) => (shell!.exitCode !== null || shell!.signalCode !== null ? r(null) : shell!.once('exit', r)));
  try {
    process.kill(-root, 'SIGKILL'); // the group we started: the shell and every sleep
  } catch {
    // already gone
  }
  await exited;
  const deadline = Date.now() + 10000;
  while (groupMembers(root).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(groupMembers(root)).toEqual([]);
}, 20000);

function sink(isTTY: boolean): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  if (isTTY) Object.assign(stream, { isTTY: true, columns: 100 });
  return { stream, bytes: () => Buffer.concat(chunks) };
}

async function run(argv: string[], opts: { ttyStderr: boolean; env: Record<string, string> }) {
  const out = sink(false);
  const err = sink(opts.ttyStderr);
  const code = await main(argv, { stdin: new PassThrough(), stdout: out.stream, stderr: err.stream, isTTY: opts.ttyStderr, env: opts.env });
  return { code, stdout: out.bytes(), stderr: err.bytes().toString('utf8') };
}

test(`the tree is there: the shell and ${N} sleeps`, () => {
  expect(groupMembers(root).length).toBe(N + 1);
});

test('piped stderr (not CI): checkpoint --tree writes nothing to it', async () => {
  const r = await run(['checkpoint', String(root), '--tree', '-o', '-'], { ttyStderr: false, env: {} });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const image = decode(r.stdout);
  expect(image.tasks).toHaveLength(N + 1);
  expect(image.tasks[0].pids.vpid).toBe(root);
  // Every sleep shares the shell's cred: written once.
  expect(new Set(image.tasks.map((t) => t.cred)).size).toBe(1);
}, 60000);

test('a terminal: progress shows, and the line is erased at the end', async () => {
  const r = await run(['checkpoint', String(root), '--tree', '-o', '-'], { ttyStderr: true, env: {} });
  expect(r.code).toBe(0);
  expect(decode(r.stdout).tasks).toHaveLength(N + 1);
  expect(r.stderr).toMatch(/^\r(finding processes: \d+|reading processes: \d+\/301 \(\d+%\))\x1b\[K/);
  expect(r.stderr.endsWith('\r\x1b[K')).toBe(true);
  expect(r.stderr).not.toContain('\n');
}, 60000);

test('a terminal with CI set, or --quiet: nothing', async () => {
  const ci = await run(['checkpoint', String(root), '--tree', '-o', '-'], { ttyStderr: true, env: { CI: 'true' } });
  expect(ci.code).toBe(0);
  expect(ci.stderr).toBe('');
  const quiet = await run(['checkpoint', String(root), '--tree', '--quiet', '-o', '-'], { ttyStderr: true, env: {} });
  expect(quiet.code).toBe(0);
  expect(quiet.stderr).toBe('');
}, 60000);

test('--progress on a pipe: plain lines, ending with every process read', async () => {
  const r = await run(['checkpoint', String(root), '--tree', '--progress', '-o', '-'], { ttyStderr: false, env: { CI: 'true' } });
  expect(r.code).toBe(0);
  const lines = r.stderr.split('\n');
  expect(lines.pop()).toBe('');
  expect(lines.length).toBeGreaterThanOrEqual(1);
  expect(lines.at(-1)).toBe(`reading processes: ${N + 1}/${N + 1} (100%)`);
  expect(r.stderr).not.toMatch(/[\r\x1b]/);
}, 60000);

test('--progress with --quiet: usage error', async () => {
  const r = await run(['checkpoint', String(root), '--tree', '--progress', '--quiet', '-o', '-'], { ttyStderr: false, env: {} });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--progress and --quiet exclude each other/);
});

test('checkpointTree onProgress: the walk, then every process read, in batches, in order', async () => {
  const seen: CheckpointProgress[] = [];
  const image = await checkpointTree(root, { kernel: 'never', onProgress: (p) => seen.push({ ...p }) });
  expect(image.tasks).toHaveLength(N + 1);
  const tree = seen.filter((p) => p.phase === 'tree');
  const read = seen.filter((p) => p.phase === 'read');
  expect(seen.indexOf(read[0])).toBe(tree.length); // all of the walk first
  expect(tree.at(-1)).toEqual({ phase: 'tree', done: N + 1, total: null });
  expect(read[0]).toEqual({ phase: 'read', done: 0, total: N + 1 });
  expect(read.at(-1)).toEqual({ phase: 'read', done: N + 1, total: N + 1 });
  expect(read.length).toBeGreaterThan(2);
  for (let i = 1; i < read.length; i++) expect(read[i].done).toBeGreaterThan(read[i - 1].done);
  // The same image as without progress (the batches read the same pids in the same order).
  const plain = await checkpointTree(root, { kernel: 'never' });
  expect(image.tasks.map((t) => t.pids)).toEqual(plain.tasks.map((t) => t.pids));
}, 60000);
