// The restart handle's contract, modelled on child_process's own tests (test-child-process-*)
// and execa's (test/exit, test/stdio): events and their order, awaiting without reading the
// pipes, a missing program, abort before and after the start, timeout, detached process groups,
// options checked by name, exit codes and signals, collected output, extra fds, cleanup at exit,
// and 1,000 restarts leaving no fd or listener behind. Real programs on the real kernel (root).
import { execFileSync } from 'child_process';
import { getEventListeners, once } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { CAP, capBit } from '../../lib/model';
import { ImageBuilder, type Image } from '../../lib/format';
import { native } from '../../lib/native/binding';
import {
  restart as libRestart,
  RestartAborted,
  RestartExitError,
  RestartHandle,
  RestartStepError,
  type RestartOptions,
  type RestartPlanReport,
} from '../../lib/restart';
import { childPids, compiledPackage, fdTargets, newChildren, newFds } from './helpers';

const me = native().readThreadCreds();
const isRoot = process.getuid?.() === 0 && (me.caps.effective & capBit(CAP.SETPCAP)) !== 0n;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the handle tests must not skip');
const rootTest = isRoot ? test : test.skip;

const ENV = { PATH: '/usr/bin:/bin' };

function image(): Image {
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 1000, gid: 1000, caps: { bounding: me.caps.bounding } }));
  return b.build();
}
const IMG = image();

/** restart() with a cwd the restored uid may enter and a small PATH. */
function run(command: string, args: string[] = [], options: RestartOptions & { dryRun?: false } = {}): RestartHandle {
  return libRestart(IMG, command, args, { cwd: '/', env: ENV, ...options });
}

/** Every event of the handle, in order. */
function recordEvents(h: RestartHandle): string[] {
  const seen: string[] = [];
  for (const e of ['spawn', 'exit', 'close', 'error'])
    h.on(e, (...a: unknown[]) => seen.push(e === 'error' ? `error:${(a[0] as Error).name}` : a.length ? `${e}:${a.join(',')}` : e));
  return seen;
}

function procStat(pid: number): { pgrp: number; session: number } {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { pgrp: Number(f[2]), session: Number(f[3]) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(st);
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the handle: a ChildProcess and a promise', () => {
  rootTest('awaiting settles on exit although nobody reads the pipes', async () => {
    const h = run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(h.stdout).not.toBeNull();
    const r = await h;
    expect(r).toMatchObject({ exitCode: 3, signal: null, failed: true, timedOut: false, isCanceled: false });
    expect(r.stdout).toBeUndefined();
    await once(h, 'close');
  });

  rootTest("events come in Node's order: spawn, then exit (code, signal), then close once the pipes closed", async () => {
    const h = run('sh', ['-c', 'echo hello']);
    const seen = recordEvents(h);
    let dataAfterSpawn = false;
    h.stdout!.on('data', () => (dataAfterSpawn = seen[0] === 'spawn'));
    expect(seen).toEqual([]); // nothing synchronously
    await once(h, 'close');
    expect(seen).toEqual(['spawn', 'exit:0,', 'close:0,']);
    expect(dataAfterSpawn).toBe(true);
    expect(h.exitCode).toBe(0);
    expect(h.signalCode).toBeNull();
  });

  rootTest('a missing program: no throw; error then close, no spawn, no exit; the promise rejects; nothing left', async () => {
    await run('no-such-program-here').then(() => null, () => null); // warm up lazily opened fds
    await new Promise((r) => setTimeout(r, 50));
    const kids = childPids();
    const fds = fdTargets();
    let h!: RestartHandle;
    expect(() => (h = run('no-such-program-here'))).not.toThrow();
    const seen = recordEvents(h);
    expect(h.pid).toBeUndefined();
    const err = await h.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RestartStepError);
    expect(err).toMatchObject({ code: 'ENOENT', phase: 'execve' });
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['error:RestartStepError', 'close:,']);
    expect(h.kill()).toBe(false);
    expect(newChildren(kids)).toEqual([]);
    expect(newFds(fds)).toEqual([]);
  });

  rootTest('abort before the start: nothing is started; error AbortError, rejection RestartAborted', async () => {
    const kids = childPids();
    const ac = new AbortController();
    ac.abort(new Error('why'));
    const h = run('sleep', ['30'], { signal: ac.signal });
    const seen = recordEvents(h);
    expect(h.pid).toBeUndefined();
    expect(newChildren(kids)).toEqual([]);
    const err = await h.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RestartAborted);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: new Error('why') });
    expect(seen).toEqual(['error:AbortError', 'close:,']);
  });

  rootTest('abort after the start: killed with killSignal; error at once, rejection once it has exited', async () => {
    const ac = new AbortController();
    const h = run('sleep', ['30'], { signal: ac.signal, stdio: 'ignore', killSignal: 'SIGKILL' });
    const seen = recordEvents(h);
    await once(h, 'spawn');
    ac.abort();
    expect(seen).toEqual(['spawn', 'error:AbortError']);
    const err = await h.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RestartAborted);
    expect([h.exitCode, h.signalCode, h.killed]).toEqual([null, 'SIGKILL', true]);
    expect(alive(h.pid!)).toBe(false);
    // An abort after the exit changes nothing.
    const done = run('true', [], { signal: new AbortController().signal });
    expect((await done).isCanceled).toBe(false);
  });

  rootTest('timeout: killed with killSignal, result.timedOut; with reject, a RestartExitError saying so', async () => {
    const t0 = Date.now();
    const r = await run('sleep', ['30'], { timeout: 100, stdio: 'ignore' });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: true, failed: true });
    const e = await run('sleep', ['30'], { timeout: 100, killSignal: 'SIGKILL', reject: true, stdio: 'ignore' }).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(RestartExitError);
    expect((e as RestartExitError).result).toMatchObject({ signal: 'SIGKILL', timedOut: true });
    expect((e as Error).message).toMatch(/sleep: timed out, killed by SIGKILL/);
  });

  rootTest('detached: a session and process group of its own, which a group signal ends whole', async () => {
    const h = run('sh', ['-c', 'sleep 30 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = await once(h.stdout!, 'data');
    const grandchild = Number(String(line).trim());
    expect(procStat(h.pid!)).toEqual({ pgrp: h.pid, session: h.pid });
    expect(procStat(grandchild).pgrp).toBe(h.pid);
    const mine = procStat(process.pid);
    expect(mine.pgrp).not.toBe(h.pid);
    process.kill(-h.pid!, 'SIGKILL');
    expect((await h).signal).toBe('SIGKILL');
    await waitFor(() => !alive(grandchild));
    // Not detached: our own group.
    const g = run('sleep', ['30'], { stdio: 'ignore' });
    expect(procStat(g.pid!).pgrp).toBe(mine.pgrp);
    g.kill('SIGKILL');
    await g;
  });

  rootTest('options are checked by name and type before anything is judged or started', () => {
    const kids = childPids();
    const call = (o: unknown) => () => libRestart(IMG, '/bin/true', [], o as RestartOptions);
    expect(call({ timout: 5 })).toThrow(new TypeError("restart: unknown option 'timout'"));
    expect(call({ linuxCrStandIn: true })).toThrow(/unknown option 'linuxCrStandIn'/);
    expect(call({ idmapHelpers: {} })).toThrow(/unknown option 'idmapHelpers'/);
    expect(call({ timeout: -1 })).toThrow(TypeError);
    expect(call({ killSignal: 'SIGNOPE' })).toThrow(/killSignal/);
    expect(call({ stdio: ['pipe', 'pipe', 'bogus'] })).toThrow(/stdio\[2\]/);
    expect(call({ stdio: 'inherit', input: 'x' })).toThrow(/input needs stdin 'pipe'/);
    expect(call({ signal: {} })).toThrow(/AbortSignal/);
    expect(call({ encoding: 'klingon' })).toThrow(/encoding/);
    expect(() => libRestart(IMG, '', [])).toThrow(TypeError);
    expect(() => libRestart(IMG, '/bin/true', 'x' as unknown as string[])).toThrow(TypeError);
    expect(newChildren(kids)).toEqual([]);
  });

  rootTest('exit codes and signals; killed; kill after the exit; reject turns a failure into RestartExitError', async () => {
    expect(await run('true')).toMatchObject({ exitCode: 0, signal: null, failed: false });
    expect(await run('sh', ['-c', 'exit 7'])).toMatchObject({ exitCode: 7, failed: true });
    const s = run('sleep', ['30'], { stdio: 'ignore' });
    expect(s.killed).toBe(false);
    expect(s.kill('SIGKILL')).toBe(true);
    expect(s.killed).toBe(true);
    expect(await s).toMatchObject({ exitCode: null, signal: 'SIGKILL', failed: true });
    expect(s.kill()).toBe(false);
    expect(() => s.kill('SIGBOGUS' as NodeJS.Signals)).not.toThrow(); // after the exit: false, as ChildProcess
    const e = await run('sh', ['-c', 'exit 9'], { reject: true }).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(RestartExitError);
    expect(e).toMatchObject({ code: 'ERR_RESTART_EXIT', result: { exitCode: 9 } });
    expect((e as Error).message).toBe('sh: exited with status 9');
    await expect(run('true', [], { reject: true })).resolves.toMatchObject({ exitCode: 0 });
  });

  rootTest('buffer collects stdout and stderr; maxBuffer kills and keeps what fit; encoding buffer', async () => {
    const r = await run('sh', ['-c', 'echo out; echo err >&2'], { buffer: true });
    expect([r.stdout, r.stderr]).toEqual(['out\n', 'err\n']);
    const big = await run('yes', [], { buffer: true, maxBuffer: 10 });
    expect(big).toMatchObject({ isMaxBuffer: true, signal: 'SIGTERM', failed: true, stdout: 'y\ny\ny\ny\ny\n' });
    const b = await run('printf', ['\\001\\002'], { buffer: true, encoding: 'buffer' });
    expect(b.stdout).toEqual(Buffer.from([1, 2]));
  });

  rootTest('input is written to stdin and closed', async () => {
    expect((await run('cat', [], { input: 'hello\n', buffer: true })).stdout).toBe('hello\n');
    expect((await run('wc', ['-c'], { input: new Uint8Array(5), buffer: true })).stdout).toBe('5\n');
  });

  rootTest('stdio: fds, streams with and without an fd, and extra fds', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-handle-'));
    fs.chmodSync(dir, 0o777);
    try {
      const file = path.join(dir, 'out');
      const fd = fs.openSync(file, 'w');
      await run('echo', ['to an fd'], { stdio: ['ignore', fd, 'inherit'] });
      fs.closeSync(fd);
      expect(fs.readFileSync(file, 'utf8')).toBe('to an fd\n');

      const ws = fs.createWriteStream(path.join(dir, 'ws'));
      await once(ws, 'open');
      const h1 = run('echo', ['to a file stream'], { stdio: ['ignore', ws, 'inherit'] });
      expect(h1.stdout).toBeNull();
      await h1;
      ws.close();
      expect(fs.readFileSync(path.join(dir, 'ws'), 'utf8')).toBe('to a file stream\n');

      // Streams without an fd are joined through a pipe of ours, both ways.
      const src = new PassThrough();
      const sink = new PassThrough();
      let got = '';
      sink.on('data', (d) => (got += d));
      const h2 = run('cat', [], { stdio: [src, sink, 'inherit'] });
      src.end('through streams\n');
      await once(h2, 'close');
      expect(got).toBe('through streams\n');

      // fd 3: a socket both ways, as child_process gives an extra 'pipe'.
      const h3 = run('sh', ['-c', 'echo on fd 3 >&3; read x <&3; echo "got $x"'], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'], buffer: true });
      expect(h3.stdio).toHaveLength(4);
      const [d] = await once(h3.stdio[3]!, 'data');
      expect(String(d)).toBe('on fd 3\n');
      (h3.stdio[3] as NodeJS.WritableStream).write('back\n');
      expect((await h3).stdout).toBe('got back\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  rootTest('env, cwd, argv0 as spawn takes them', async () => {
    const r = await run('sh', ['-c', 'echo "$FOO $(pwd)"'], { env: { ...ENV, FOO: 'bar' }, cwd: '/tmp', buffer: true });
    expect(r.stdout).toBe('bar /tmp\n');
    const a = await run('/bin/cat', ['/proc/self/cmdline'], { argv0: 'mycat', buffer: true });
    expect(a.stdout).toBe('mycat\0/proc/self/cmdline\0');
  });

  test('dry run overloads are typed exactly', () => {
    // Compile-time checks (ts-jest type-checks this file); the bodies never run.
    const typed = (img: Image, flag: boolean) => {
      const plan: RestartPlanReport = libRestart(img, 'x', [], { dryRun: true });
      const handle: RestartHandle = libRestart(img, 'x', [], { dryRun: false });
      const plain: RestartHandle = libRestart(img, 'x');
      // @ts-expect-error: a boolean dryRun may give either
      const notSure: RestartHandle = libRestart(img, 'x', [], { dryRun: flag });
      const either: RestartHandle | RestartPlanReport = libRestart(img, 'x', [], { dryRun: flag });
      return [plan, handle, plain, notSure, either];
    };
    expect(typeof typed).toBe('function');
  });
});

describe('cleanup: programs still running are killed when this process exits', () => {
  let pkg: string;
  beforeAll(() => {
    if (isRoot) pkg = compiledPackage('handle');
  }, 120_000);
  afterAll(() => pkg && fs.rmSync(pkg, { recursive: true, force: true }));

  /** A node process that restarts `sleep 30` with `opts`, prints its pid and exits. */
  function orphanPid(opts: string): number {
    const script =
      `const { restart, ImageBuilder } = require(${JSON.stringify(path.join(pkg, 'dist', 'index.js'))});` +
      `const b = new ImageBuilder(); b.task(b.cred({ uid: 1000, gid: 1000, caps: { bounding: ${me.caps.bounding}n } }));` +
      `const h = restart(b.build(), '/bin/sleep', ['30'], { cwd: '/', stdio: 'ignore', ...${opts} });` +
      `h.unref(); h.once('spawn', () => process.stdout.write(String(h.pid)));`;
    return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
  }

  rootTest('by default the program is killed at exit; cleanup: false and detached leave it running', async () => {
    const killed = orphanPid('{}');
    await waitFor(() => !alive(killed));
    for (const opts of ['{ cleanup: false }', '{ detached: true }']) {
      const left = orphanPid(opts);
      expect(alive(left)).toBe(true);
      process.kill(left, 'SIGKILL');
    }
  });
});

describe('no leak', () => {
  rootTest('1,000 restarts with every option leave no fd, no child and no listener', async () => {
    const ac = new AbortController();
    const opts = (i: number): RestartOptions & { dryRun?: false } => ({
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      env: { ...ENV, I: String(i) },
      cwd: '/tmp',
      argv0: 'sh',
      detached: i % 2 === 0,
      cleanup: true,
      signal: ac.signal,
      timeout: 60_000,
      killSignal: 'SIGKILL',
      input: 'x',
      buffer: i % 3 !== 0,
      maxBuffer: 1 << 20,
      reject: false,
    });
    await once(run('true', [], opts(1)), 'close'); // warm up lazily opened fds
    const fds = fdTargets();
    const kids = childPids();
    const exitListeners = process.listenerCount('exit');
    for (let i = 0; i < 1000; i++) {
      const h = run('sh', ['-c', 'cat; echo $I; echo err >&2'], opts(i));
      await once(h, 'close');
      const r = await h;
      expect(r.exitCode).toBe(0);
      if (r.stdout !== undefined) expect(r.stdout).toBe(`x${i}\n`);
      expect(h.listenerCount('error')).toBe(0);
    }
    await new Promise((r) => setImmediate(r));
    expect(newFds(fds)).toEqual([]);
    expect(newChildren(kids)).toEqual([]);
    expect(process.listenerCount('exit')).toBe(exitListeners);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  }, 180_000);
});
