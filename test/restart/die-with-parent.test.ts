// SIGKILL of `cr-creds restart` must not leave the program running under init: the CLI arms
// PR_SET_PDEATHSIG in the child right before execve (--no-die-with-parent turns it off, and then
// the program does outlive the CLI: the control that shows this test can fail).
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { capBit, CAP } from '../../lib/model';
import { ImageBuilder, encode } from '../../lib/format';
import { native } from '../../lib/native/binding';
import { compiledPackage } from './helpers';

const me = native().readThreadCreds();
const isRoot = process.getuid?.() === 0 && (me.caps.effective & capBit(CAP.SETUID)) !== 0n;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the die-with-parent tests must not skip');
const rootTest = isRoot ? test : test.skip;

let pkg = '';
let dir = '';
let image = '';
beforeAll(() => {
  pkg = compiledPackage('dwp');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-dwp-'));
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 1000, gid: 1000, caps: { bounding: me.caps.bounding } }));
  image = path.join(dir, 'user.img');
  fs.writeFileSync(image, encode(b.build()));
}, 120000);
afterAll(() => {
  fs.rmSync(pkg, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Pids whose command line is exactly argv. */
function pidsRunning(argv: string[]): number[] {
  const want = argv.join('\0') + '\0';
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'latin1') === want) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * The programs running `argv` still there after a moment for the death signal to act: 5 s at
 * most, for a loaded machine (the kernel kills and reaps such a program at once; one that was
 * not tied to its parent never goes, so the bound only says how long to look).
 */
async function leftAfterParentDied(argv: string[]): Promise<number[]> {
  const t0 = Date.now();
  let left = pidsRunning(argv);
  while (left.length > 0 && Date.now() - t0 < 5000) {
    await sleep(10);
    left = pidsRunning(argv);
  }
  return left;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(c: ChildProcess): Promise<void> {
  return new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
}

/**
 * Starts the CLI, kills it with SIGKILL at a random moment (within `windowMs` of the launch, or
 * of the program's start when `afterStart`), and reports whether the program had started and
 * whether it is still running afterwards (then it is killed here).
 */
async function killRun(extra: string[], afterStart: boolean, windowMs: number): Promise<{ started: boolean; orphan: boolean }> {
  const secs = String(100000 + Math.floor(Math.random() * 800000));
  const argv = ['sleep', secs];
  const c = spawn(process.execPath, [path.join(pkg, 'dist', 'cli', 'main.js'), 'restart', image, ...extra, '--', ...argv], { cwd: '/', stdio: 'ignore' });
  const launched = Date.now();
  if (afterStart) while (pidsRunning(argv).length === 0 && Date.now() - launched < 10000 && c.exitCode === null) await sleep(5);
  await sleep(Math.floor(Math.random() * windowMs));
  const started = pidsRunning(argv).length > 0;
  c.kill('SIGKILL');
  await exited(c);
  // The death signal is delivered as the parent exits; give the kernel a moment to reap.
  const left = await leftAfterParentDied(argv);
  for (const p of left) process.kill(p, 'SIGKILL');
  return { started: started || left.length > 0, orphan: left.length > 0 };
}

rootTest(
  'SIGKILL of the restart CLI at 20 random moments leaves no orphan program; --no-die-with-parent does',
  async () => {
    let orphans = 0;
    let started = 0;
    for (let i = 0; i < 20; i++) {
      // Half the kills land anywhere from launch on (start-up, judging, fork, exec); half after
      // the program runs, where an orphan would be left without the death signal.
      const r = await killRun([], i % 2 === 1, i % 2 === 1 ? 100 : 600);
      if (r.orphan) orphans++;
      if (r.started) started++;
    }
    console.log(`die-with-parent: 20 SIGKILLs of the CLI, program started in ${started}, orphans ${orphans}`);
    expect(orphans).toBe(0);
    expect(started).toBeGreaterThanOrEqual(10);

    let controlOrphans = 0;
    for (let i = 0; i < 3; i++) if ((await killRun(['--no-die-with-parent'], true, 50)).orphan) controlOrphans++;
    expect(controlOrphans).toBe(3);
  },
  180000,
);

rootTest("the program is the CLI's own child (not reparented) and dies with it", async () => {
  const secs = String(100000 + Math.floor(Math.random() * 800000));
  const c = spawn(process.execPath, [path.join(pkg, 'dist', 'cli', 'main.js'), 'restart', image, '--', 'sleep', secs], { cwd: '/', stdio: 'ignore' });
  let pids: number[] = [];
  for (let i = 0; i < 1000 && pids.length === 0; i++) {
    await sleep(10);
    pids = pidsRunning(['sleep', secs]);
  }
  expect(pids).toHaveLength(1);
  // /proc/PID/status has no field for it; the ppid shows who the program is tied to.
  const ppid = Number(/PPid:\s*(\d+)/.exec(fs.readFileSync(`/proc/${pids[0]}/status`, 'utf8'))![1]);
  expect(ppid).toBe(c.pid);
  c.kill('SIGKILL');
  await exited(c);
  const left = await leftAfterParentDied(['sleep', secs]);
  for (const p of left) process.kill(p, 'SIGKILL');
  expect(left).toEqual([]);
}, 60000);
