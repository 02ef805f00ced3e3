// Test processes with known credentials: credproc.c (built once per run with cc) and any
// command; each says "ready PID" (or is taken as ready once spawned) and is killed afterwards.
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SRC = path.join(__dirname, 'credproc.c');
let built: string | undefined;

/** Builds credproc.c (cc -pthread) into a temp dir, once. */
export function credprocPath(): string {
  if (built) return built;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-credproc-'));
  const out = path.join(dir, 'credproc');
  const r = spawnSync('cc', ['-O1', '-Wall', '-pthread', '-o', out, SRC], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc credproc.c failed: ${r.stderr}`);
  built = out;
  return out;
}

export interface TestProc {
  /** The process whose creds are under test (for --nest, the deepest one). */
  pid: number;
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  kill(): void;
}

const live = new Set<TestProc>();

/** Starts credproc with args and waits for its "ready PID" line. */
export function credproc(args: string[], opts: { stdin?: 'pipe' | 'ignore' } = {}): Promise<TestProc> {
  return startReady(credprocPath(), args, opts);
}

/** Runs any command that ends by exec'ing credproc (setpriv ... credproc ...). */
export function startReady(cmd: string, args: string[], opts: { stdin?: 'pipe' | 'ignore' } = {}): Promise<TestProc> {
  const child = spawn(cmd, args, { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} ${args.join(' ')}: not ready: ${err}`)), 10000);
    child.stdout!.on('data', (d: string) => {
      out += d;
      const m = /ready (\d+)\n/.exec(out);
      if (m && !live.has(proc)) {
        clearTimeout(timer);
        proc.pid = Number(m[1]);
        live.add(proc);
        resolve(proc);
      }
    });
    child.on('exit', (code) => {
      if (!live.has(proc) && code !== 0) {
        clearTimeout(timer);
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`));
      }
    });
    const proc: TestProc = {
      pid: 0,
      child,
      output: () => out,
      kill() {
        try {
          process.kill(proc.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        live.delete(proc);
      },
    };
  });
}

export function killAll(): void {
  for (const p of [...live]) p.kill();
}

/** The fields of /proc/PID/status as strings. */
export function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** Left as found: untraced and not stopped by us (state letter as expected). */
export function expectUntraced(pid: number, state = /^[RS]/): void {
  const s = procStatus(pid);
  expect(s.TracerPid).toBe('0');
  expect(s.State).toMatch(state);
}

/**
 * Looks at `cond` every few ms until it holds or `ms` have passed; its last answer. For what the
 * kernel or another process does a moment later: a loaded machine delays it, and only the bound
 * (wide, as it costs nothing when the answer comes) says how long we wait for it.
 */
export async function pollUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 >= ms) return cond();
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/**
 * A parent that never reaps its child, and that child, a zombie once this resolves (python never
 * waits unless told; a shell may reap a background job before it execs). Kill `parent` after.
 */
export async function zombieChild(): Promise<{ parent: ChildProcess; zombie: number }> {
  const script = 'import os, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nprint(pid, flush=True)\ntime.sleep(30)\n';
  const parent = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  const zombie = Number(await new Promise<string>((r) => parent.stdout!.once('data', (d) => r(String(d).trim()))));
  await pollUntil(() => /\) Z /.test(fs.readFileSync(`/proc/${zombie}/stat`, 'latin1')), 2000);
  return { parent, zombie };
}

/**
 * Waits (5 s at most) until a tracer holds every thread of `pid` (and, unless `stopped` is false,
 * has stopped each, as it does before a checkpoint's hold) and returns the tracer's pid: a kill
 * meant to land inside the hold is sent at once after, not after a sleep that may outlast it.
 */
export async function waitHeld(pid: number, stopped = true): Promise<number> {
  const held = (): boolean => {
    try {
      return fs.readdirSync(`/proc/${pid}/task`).every((tid) => {
        const s = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        return !/^TracerPid:\s+0$/m.test(s) && (!stopped || /^State:\s+t/m.test(s));
      });
    } catch {
      return false; // gone: not held
    }
  };
  expect(await pollUntil(held, 5000)).toBe(true);
  return Number(procStatus(pid).TracerPid);
}

/**
 * A task that slept in a call: untraced at once, and asleep again soon (once detached it restarts
 * its call by itself, a moment after the read has answered; 2 s at most, for a loaded machine).
 */
export async function expectAsleepAgain(pid: number): Promise<void> {
  expect(procStatus(pid).TracerPid).toBe('0');
  await pollUntil(() => procStatus(pid).State.startsWith('S'), 2000);
  expectUntraced(pid, /^S/);
}

/** Resolves once the child exited and its output is all read ('close'). */
export function waitExit(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.stdout?.closed !== false && (child.exitCode !== null || child.signalCode !== null))
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
}

/**
 * Why the BPF securebits reader cannot be used here (null: it can). Asked of a child, so that
 * nothing is loaded into the test's own process. Under CI (root, a kernel that has it) its tests
 * must not skip: they run, and fail, where it is missing.
 */
export function bpfReaderMissing(): string | null {
  const addon = path.join(__dirname, '..', '..', '..', 'build', 'Release', 'cr_creds.node');
  const script =
    `require(${JSON.stringify(addon)}).readLiveTasksFlat([process.ppid], { securebitsReader: 'bpf' })` +
    `.then(() => console.log('ok'), (e) => console.log(e.message));`;
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' }).stdout.trim();
  return out === 'ok' ? null : out;
}

/** Whether tests of the BPF reader run: where it works, and always under CI. */
export const bpfTestsRun = (): boolean => Boolean(process.env.CI) || bpfReaderMissing() === null;
