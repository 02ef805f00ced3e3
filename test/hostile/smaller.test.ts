// The smaller defects: one rule for an oversized GROUPINFO whichever reader; u32 hex in
// securebits errors; duplicate pids; a zombie named as exited; --tree across a pid namespace.
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import { DIALECTS, DIALECT_NAMES, ImageBuilder, MAX_GROUPINFO_LEN, decode, encode, readImage, validate, validateStream } from '../../lib/format';
import { checkpoint, processTree } from '../../lib/checkpoint';
import { cli } from '../cli/io';
import { zombieChild } from '../checkpoint/helpers/procs';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: these tests must not skip');
const rootTest = isRoot ? test : test.skip;

/** The image with its (only) GROUPINFO record grown to `len` bytes (zeros appended to it). */
function groupinfoOfLen(len: number, dialect: (typeof DIALECT_NAMES)[number]): Uint8Array {
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 1, groups: [5] }));
  const bytes = encode(b.build(), { dialect });
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off < bytes.length; off += v.getUint32(off + 4, true)) {
    if (v.getUint32(off, true) !== DIALECTS[dialect].record.GROUPINFO) continue;
    const old = v.getUint32(off + 4, true);
    const out = new Uint8Array(bytes.length - old + len);
    out.set(bytes.subarray(0, off + old), 0);
    out.set(bytes.subarray(off + old), off + len);
    new DataView(out.buffer).setUint32(off + 4, len, true);
    return out;
  }
  throw new Error('no GROUPINFO');
}

test.each(DIALECT_NAMES)('an oversized GROUPINFO breaks the same rule for decode, validate and the stream reader (%s)', async (dialect) => {
  for (const len of [MAX_GROUPINFO_LEN + 8, MAX_GROUPINFO_LEN + 4096, (1 << 20) - 8]) {
    const bytes = groupinfoOfLen(len, dialect);
    let fromDecode: Error | undefined;
    try {
      decode(bytes);
    } catch (e) {
      fromDecode = e as Error;
    }
    const fromStream = await readImage(Readable.from([Buffer.from(bytes)])).then(() => undefined, (e: Error) => e);
    expect(fromDecode?.message).toMatch(/GROUPINFO: record-too-large: len \d+ exceeds the 262160-byte limit/);
    expect(fromStream?.message).toBe(fromDecode?.message);
    expect(validate(bytes).map((p) => p.message)).toEqual([fromDecode!.message]);
    expect((await validateStream(Readable.from([Buffer.from(bytes)]))).map((p) => p.message)).toEqual([fromDecode!.message]);
  }
});

test('validateStream gives the same problems as validate on damaged images', async () => {
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 1, groups: [5, 6] }));
  const good = encode(b.build());
  const cases = [good, good.subarray(0, good.length - 3), Buffer.concat([good, Buffer.alloc(16)]), (() => {
    const x = Uint8Array.from(good);
    x[x.length - 1] ^= 0xff; // tail magic
    return x;
  })()];
  for (const bytes of cases)
    expect((await validateStream(Readable.from([Buffer.from(bytes)]))).map((p) => p.message)).toEqual(validate(bytes).map((p) => p.message));
});

test('a securebits word with bit 31 set is shown as the u32 it is, never 0x-1000', async () => {
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 0, securebits: 0xfffff000 }));
  const dir = fs.mkdtempSync('/tmp/cr-creds-sb-');
  try {
    fs.writeFileSync(`${dir}/sb.img`, encode(b.build()));
    const r = await cli(['restart', `${dir}/sb.img`, '--dry-run', '--', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bit(s) 0xfffff000 do not exist on this kernel');
    expect(r.stderr).not.toMatch(/0x-/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoint refuses a pid given twice (CLI: usage error; API: RangeError)', async () => {
  const r = await cli(['checkpoint', String(process.pid), String(process.pid), '--skip-securebits', '-o', '-']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(`cr-creds: pid ${process.pid} given twice`);
  await expect(checkpoint([process.pid, process.pid], { unknownSecurebits: 'skip' })).rejects.toThrow(`checkpoint: pid ${process.pid} given twice`);
});

rootTest('a zombie is named as exited, with and without securebits', async () => {
  // A parent that never reaps its child: the child stays a zombie while the parent sleeps.
  const { parent, zombie } = await zombieChild();
  try {
    for (const extra of [['--skip-securebits'], []]) {
      const r = await cli(['checkpoint', String(zombie), ...extra, '-o', '-']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`cr-creds: process ${zombie} has exited (a zombie its parent has not reaped): there is nothing to checkpoint\n`);
    }
    // In a tree, a zombie descendant is left out (its parent is live), and ptrace never tried on it.
    for (const extra of [['--skip-securebits'], []]) {
      const tree = await cli(['checkpoint', String(parent.pid), '--tree', ...extra, '-o', '-']);
      expect(tree.stderr).toBe('');
      expect(tree.code).toBe(0);
    }
    expect((await processTree(parent.pid!)).map((t) => [t.pid, t.zombie])).toEqual([[parent.pid, undefined], [zombie, true]]);
    const { checkpointTree: withSecurebits } = await import('../../lib/checkpoint');
    expect((await withSecurebits(parent.pid!)).tasks.map((t) => t.pids.vpid)).toEqual([parent.pid]);
  } finally {
    parent.kill('SIGKILL');
  }
});

rootTest('a process whose main thread has exited (its leader a zombie) is left out of a tree, its children are not', async () => {
  // main() forks a sleep, starts a thread and calls pthread_exit: /proc shows the leader 'Z'
  // while the other thread lives on and keeps the child.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-zleader-'));
  const src = path.join(dir, 'zleader.c');
  fs.writeFileSync(
    src,
    '#include <pthread.h>\n#include <stdio.h>\n#include <unistd.h>\n' +
      'static void* run(void* a) { for (;;) pause(); return 0; }\n' +
      'int main(void) { pid_t c = fork(); if (c == 0) { execlp("sleep", "sleep", "100", (char*)0); _exit(1); }\n' +
      '  pthread_t t; pthread_create(&t, 0, run, 0); printf("%d %d\\n", getpid(), c); fflush(stdout); pthread_exit(0); }\n',
  );
  execFileSync('cc', ['-O1', '-pthread', '-o', path.join(dir, 'zleader'), src]);
  const sh = spawn('sh', ['-c', `${path.join(dir, 'zleader')}; sleep 100`], { stdio: ['ignore', 'pipe', 'ignore'] });
  let pids: number[] = [];
  try {
    pids = (await new Promise<string>((r) => sh.stdout!.once('data', (d) => r(String(d))))).trim().split(' ').map(Number);
    const [zleader, child] = pids;
    for (let i = 0; i < 200 && !/\) Z /.test(fs.readFileSync(`/proc/${zleader}/stat`, 'latin1')); i++) await new Promise((r) => setTimeout(r, 10));
    expect((await processTree(sh.pid!)).map((t) => [t.pid, t.zombie])).toEqual([[sh.pid, undefined], [zleader, true], [child, undefined]]);
    const { checkpointTree: withSecurebits } = await import('../../lib/checkpoint');
    expect((await withSecurebits(sh.pid!)).tasks.map((t) => t.pids.vpid)).toEqual([sh.pid, child]);
  } finally {
    for (const pid of pids.reverse()) process.kill(pid, 'SIGKILL');
    sh.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** pid and its descendants, from /proc/PID/task/TID/children. */
function descendants(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of fs.readdirSync(`/proc/${out[i]}/task`))
        out.push(...fs.readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number));
    } catch {
      // gone
    }
  }
  return out;
}

rootTest('--tree across a pid namespace keeps every parent link (pids as the root sees them)', async () => {
  // root (sh) -> unshare -> sh (pid 1 of a new pid namespace) -> sleep (pid 2 there)
  const root = spawn('sh', ['-c', 'unshare --pid --fork sh -c "sleep 30 & wait"; true'], { stdio: 'ignore' });
  let tree: number[] = [];
  try {
    for (let i = 0; i < 300 && tree.length < 4; i++) {
      await new Promise((r) => setTimeout(r, 10));
      tree = descendants(root.pid!);
    }
    expect(tree).toHaveLength(4);
    const inner = fs.readFileSync(`/proc/${tree[3]}/status`, 'utf8');
    expect(inner).toMatch(/NSpid:\s+\d+\s+2\n/); // the sleep is pid 2 of its own namespace
    const image = await checkpointTree(root.pid!);
    const tasks = image.tasks;
    expect(tasks.map((t) => t.pids.vpid)).toEqual(tree);
    // Every task but the root has its parent in the image: the parent link crosses the namespace.
    expect(tasks.slice(1).map((t) => t.pids.vppid)).toEqual(tree.slice(0, 3));
    expect(tasks.map((t) => t.pids.depth)).toEqual([0, 1, 2, 3]);
  } finally {
    for (const p of tree.reverse()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
});

async function checkpointTree(pid: number) {
  const { checkpointTree: tree } = await import('../../lib/checkpoint');
  return tree(pid, { unknownSecurebits: 'skip' });
}
