// restart() end to end on the real kernel (root): images built with ImageBuilder or taken by a
// live checkpoint, a program started with their creds, and the prediction of the creds that
// program runs with compared to what it reports, field by field.
import { spawn as nodeSpawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CAP, SECBIT, capBit, type Cred } from '../../lib/model';
import { ImageBuilder, encode, type Image } from '../../lib/format';
import { native } from '../../lib/native/binding';
import {
  CarryCapsRefused,
  RestartDenied,
  RestartStepError,
  RestartUnsupported,
  type RestartHandle,
  type RestartPlanReport,
} from '../../lib/restart';
import { restartForTests as libRestart } from '../../lib/restart/testing';
import { childPids, fdTargets, newChildren, newFds, parseReport, parseStatus, REPORTER, STATUS, type Reported } from './helpers';

// Restarted programs mostly run as non-root uids: give them a cwd they can enter (the default,
// process.cwd(), is the checkout, which may be root-only).
const restart = ((image, command, args, options) =>
  libRestart(image, command, args, { cwd: '/', ...options } as Parameters<typeof libRestart>[3])) as typeof libRestart;

const me = native().readThreadCreds();
const isRoot = process.getuid?.() === 0 && (me.caps.effective & capBit(CAP.SETPCAP)) !== 0n;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the restart tests must not skip');
const rootTest = isRoot ? test : test.skip;

/** Awaits the program and its piped stdout read to the end ('close': exit and every pipe closed). */
async function output(h: RestartHandle): Promise<{ out: string; code: number | null; signal: string | null }> {
  let out = '';
  h.stdout?.setEncoding('utf8');
  h.stdout?.on('data', (d: string) => (out += d));
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
    h.once('close', (c, s) => resolve([c, s]));
    h.once('error', reject);
  });
  return { out, code, signal };
}

/** The prediction of the program's creds (after execve) against what it reported. */
function expectPrediction(plan: RestartPlanReport, got: Reported): void {
  const c: Cred = plan.exec.cred;
  expect({
    uid: got.uid, euid: got.euid, suid: got.suid, fsuid: got.fsuid,
    gid: got.gid, egid: got.egid, sgid: got.sgid, fsgid: got.fsgid,
    groups: got.groups, caps: got.caps, securebits: got.securebits, noNewPrivs: got.noNewPrivs,
  }).toEqual({
    uid: c.uid, euid: c.euid, suid: c.suid, fsuid: c.fsuid,
    gid: c.gid, egid: c.egid, sgid: c.sgid, fsgid: c.fsgid,
    groups: [...c.groups.gids], caps: c.caps, securebits: c.securebits, noNewPrivs: plan.exec.noNewPrivs,
  });
}

async function runReporter(image: Image, opts: import('../../lib/restart').RestartOptions & { dryRun?: false } = {}): Promise<{ plan: RestartPlanReport; got: Reported }> {
  const plan = restart(image, REPORTER[0], REPORTER.slice(1), { ...opts, dryRun: true });
  const r = await output(restart(image, REPORTER[0], REPORTER.slice(1), { ...opts, stdio: ['ignore', 'pipe', 'inherit'] }));
  expect(r.code).toBe(0);
  // The emulator's restored cred is what the child verified on the kernel before execve
  // (carryCaps adds ambient on purpose, so only the other sets are compared then).
  if (!plan.emulated.ok) throw new Error('emulator refused an image restart allowed');
  const emu = plan.emulated.cred;
  const { ambient: ea, ...emuCaps } = emu.caps;
  const { ambient: ra, ...restCaps } = plan.restored.caps;
  expect(emuCaps).toEqual(restCaps);
  if (!opts.carryCaps) expect(ea).toBe(ra);
  expect(emu.securebits).toBe(plan.restored.securebits);
  expect(plan.emulated.noNewPrivs).toBe(plan.restoredNoNewPrivs);
  return { plan, got: parseReport(r.out) };
}

const NB = CAP.NET_BIND_SERVICE;

describe('restart() with images of one task', () => {
  rootTest('a typical user: ids, groups, no capabilities; the program reports exactly the prediction', async () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, gid: 1000, groups: [4, 24, 1000], caps: { bounding: me.caps.bounding } }));
    const { plan, got } = await runReporter(b.build());
    expect(plan.path).toBe('ops');
    expect(got.uid).toBe(1000);
    expect(got.groups).toEqual([4, 24, 1000]);
    expectPrediction(plan, got);
  });

  rootTest('split ids (r/e/s/fs all different) come back before execve, as execve then folds them', async () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, euid: 1001, suid: 1002, fsuid: 1003, gid: 50, egid: 51, sgid: 52, fsgid: 53, caps: { bounding: me.caps.bounding } }));
    const image = b.build();
    const plan = restart(image, '/bin/true', [], { dryRun: true });
    // The read-back before execve covered every id (the child would have aborted otherwise).
    const { got } = await runReporter(image);
    expect([got.uid, got.euid, got.suid, got.fsuid]).toEqual([1000, 1001, 1001, 1001]);
    expect([got.gid, got.egid, got.sgid, got.fsgid]).toEqual([50, 51, 51, 51]);
    expectPrediction(plan, got);
  });

  rootTest('capabilities do not survive execve for a non-root uid, unless carryCaps', async () => {
    const b = new ImageBuilder();
    const bit = capBit(NB);
    b.task(b.cred({ uid: 1000, gid: 1000, caps: { inheritable: bit, permitted: bit, effective: bit, bounding: me.caps.bounding } }));
    const image = b.build();
    const plain = await runReporter(image);
    expect(plain.got.caps.permitted).toBe(0n);
    expectPrediction(plain.plan, plain.got);
    const carried = await runReporter(image, { carryCaps: true });
    expect(carried.got.caps.permitted).toBe(bit);
    expect(carried.got.caps.effective).toBe(bit);
    expect(carried.got.caps.ambient).toBe(bit);
    expectPrediction(carried.plan, carried.got);
  });

  rootTest('carryCaps refuses, with nothing started, a cap that is not inheritable', () => {
    const b = new ImageBuilder();
    const bit = capBit(NB) | capBit(CAP.NET_RAW);
    b.task(b.cred({ uid: 1000, caps: { inheritable: capBit(NB), permitted: bit, effective: bit, bounding: me.caps.bounding } }));
    const kids = childPids();
    let err: unknown;
    try {
      restart(b.build(), '/bin/true', [], { carryCaps: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CarryCapsRefused);
    expect((err as CarryCapsRefused).caps).toEqual(['CAP_NET_RAW']);
    expect(newChildren(kids)).toEqual([]);
  });

  rootTest('carryCaps refuses when SECBIT_NO_CAP_AMBIENT_RAISE is set', () => {
    const b = new ImageBuilder();
    const bit = capBit(NB);
    b.task(b.cred({ uid: 1000, securebits: SECBIT.NO_CAP_AMBIENT_RAISE, caps: { inheritable: bit, permitted: bit, effective: bit, bounding: me.caps.bounding } }));
    expect(() => restart(b.build(), '/bin/true', [], { carryCaps: true })).toThrow(/NO_CAP_AMBIENT_RAISE/);
  });

  rootTest('securebits, bounding drops and no_new_privs', async () => {
    const b = new ImageBuilder();
    const bits = SECBIT.NOROOT | SECBIT.NOROOT_LOCKED | SECBIT.NO_SETUID_FIXUP;
    const bnd = me.caps.bounding & ~capBit(CAP.SYS_ADMIN) & ~capBit(CAP.SYS_MODULE);
    b.task(b.cred({ uid: 0, gid: 0, securebits: bits, caps: { permitted: capBit(CAP.CHOWN), effective: capBit(CAP.CHOWN), bounding: bnd } }), { noNewPrivs: true });
    const { plan, got } = await runReporter(b.build());
    expect(got.securebits).toBe(bits);
    expect(got.caps.bounding).toBe(bnd);
    expect(got.noNewPrivs).toBe(true);
    // NOROOT: uid 0 gains nothing at execve.
    expect(got.caps.permitted).toBe(0n);
    expectPrediction(plan, got);
  });

  rootTest('root keeps its capabilities across execve (the file counts as fully capable)', async () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 0, caps: { permitted: me.caps.permitted, effective: me.caps.effective, bounding: me.caps.bounding } }));
    const { plan, got } = await runReporter(b.build());
    expect(got.caps.permitted).toBe(me.caps.bounding);
    expectPrediction(plan, got);
  });

  rootTest('a cred in a user namespace: chain created, mapped, ids set inside', async () => {
    const b = new ImageBuilder();
    const ns = b.namespace(b.user(0), {
      uidMap: [{ inside: 0, outside: 100000, count: 65536 }],
      gidMap: [{ inside: 0, outside: 100000, count: 65536 }],
      setgroups: 'allow',
    });
    const inner = b.namespace(b.user(0, ns), {
      uidMap: [{ inside: 0, outside: 1000, count: 1000 }],
      gidMap: [{ inside: 0, outside: 1000, count: 1000 }],
      // 'deny' would be restorable on the live kernel too (groups are set before the unshare),
      // but the emulator refuses groups in a deny namespace: reported, not papered over.
      setgroups: 'allow',
    });
    const full = (1n << BigInt(native().probe().capLastCap + 1)) - 1n;
    b.task(b.cred({ uid: 7, gid: 8, groups: [9], user: b.user(7, inner), caps: { bounding: full } }));
    const image = b.build();
    const { plan, got } = await runReporter(image);
    expect([got.uid, got.gid, got.groups]).toEqual([7, 8, [9]]);
    expectPrediction(plan, got);
    // Seen from outside: uid 7 of the inner namespace is 100000 + 1000 + 7.
    const h = restart(image, '/bin/sleep', ['5'], { stdio: 'ignore' });
    const status = parseStatus(fs.readFileSync(`/proc/${h.pid}/status`, 'utf8'));
    expect(status.uids).toEqual([101007, 101007, 101007, 101007]);
    expect(status.groups).toEqual([101009]);
    h.kill();
    expect((await h).signal).toBe('SIGTERM');
  });
});

describe('restart(): selection, exits, errors', () => {
  function twoTasks(): Image {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, caps: { bounding: me.caps.bounding } }), { pids: { vpid: 10 } });
    b.task(b.cred({ uid: 2000, caps: { bounding: me.caps.bounding } }), { pids: { vpid: 20 } });
    return b.build();
  }

  rootTest('task by index or by original pid; decoding bytes first', async () => {
    const bytes = encode(twoTasks());
    const byIndex = await output(restart(bytes, '/bin/cat', ['/proc/self/status'], { task: 1, stdio: ['ignore', 'pipe', 'inherit'] }));
    expect(parseStatus(byIndex.out).uids[0]).toBe(2000);
    const byPid = await output(restart(bytes, '/bin/cat', ['/proc/self/status'], { pid: 10, stdio: ['ignore', 'pipe', 'inherit'] }));
    expect(parseStatus(byPid.out).uids[0]).toBe(1000);
    expect(() => restart(bytes, '/bin/true', [], { pid: 99 })).toThrow(RestartUnsupported);
    expect(() => restart(bytes, '/bin/true', [], { task: 2 })).toThrow(RestartUnsupported);
  });

  rootTest('exit code, signal, PATH search, env, cwd, stdin pipe', async () => {
    const image = twoTasks();
    expect((await restart(image, 'sh', ['-c', 'exit 7'], { stdio: 'ignore' })).exitCode).toBe(7);
    const h = restart(image, 'sh', ['-c', 'echo "$FOO $(pwd)"; cat'], { env: { PATH: '/usr/bin:/bin', FOO: 'bar' }, cwd: '/tmp' });
    h.stdin!.end('from stdin\n');
    const r = await output(h);
    expect(r.out).toBe('bar /tmp\nfrom stdin\n');
    const s = restart(image, 'sleep', ['30'], { stdio: 'ignore' });
    expect(s.kill('SIGKILL')).toBe(true);
    expect(await s).toMatchObject({ exitCode: null, signal: 'SIGKILL', failed: true });
    expect(s.kill()).toBe(false);
  });

  rootTest('a program that cannot be executed: RestartStepError naming execve, child reaped', async () => {
    const kids = childPids();
    const h = restart(twoTasks(), 'no-such-program-here', [], { stdio: 'ignore', env: { PATH: '/usr/bin:/bin' } });
    expect(newChildren(kids)).toEqual([]);
    const err = await h.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RestartStepError);
    expect(err).toMatchObject({ code: 'ENOENT', phase: 'execve', op: 'execve' });
    expect(newChildren(kids)).toEqual([]);
  });

  rootTest('a working directory the restored uid may not enter: RestartStepError at chdir that says to pass cwd', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-cwd-'));
    fs.chmodSync(dir, 0o700);
    try {
      const kids = childPids();
      const err = await restart(twoTasks(), '/bin/true', [], { stdio: 'ignore', cwd: dir }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(RestartStepError);
      expect(err).toMatchObject({ code: 'EACCES', phase: 'chdir' });
      expect((err as Error).message).toMatch(/may not enter the working directory; pass cwd/);
      expect(newChildren(kids)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  rootTest('an in-kernel override (ecred != cred) is refused: one cred per program', () => {
    const b = new ImageBuilder();
    const c1 = b.cred({ uid: 1000, caps: { bounding: me.caps.bounding } });
    b.task(c1, { ecred: b.cred({ uid: 0, caps: { bounding: me.caps.bounding } }) });
    expect(() => restart(b.build(), '/bin/true', [])).toThrow(RestartUnsupported);
  });

  rootTest('dryRun starts nothing and says what the program will run with', () => {
    const kids = childPids();
    const plan = restart(twoTasks(), '/bin/true', [], { dryRun: true });
    expect(newChildren(kids)).toEqual([]);
    expect(plan.steps.every((s) => s.allowed)).toBe(true);
    expect(plan.ops.map((o) => o.op)).toContain('setresuid');
    expect(plan.exec.cred.uid).toBe(1000);
  });

  rootTest('successful restarts with piped stdio leave no fd and no zombie once awaited', async () => {
    const image = twoTasks();
    await output(restart(image, '/bin/true', [])); // warm up lazily opened fds
    const fds = fdTargets();
    const kids = childPids();
    for (let i = 0; i < 50; i++) {
      const h = restart(image, 'sh', ['-c', 'cat; echo out; echo err >&2'], { env: { PATH: '/usr/bin:/bin' } });
      h.stdin!.end('in\n');
      h.stderr!.resume();
      const r = await output(h);
      expect(r.out).toBe('in\nout\n');
    }
    await new Promise((r) => setImmediate(r));
    expect(newFds(fds)).toEqual([]);
    expect(newChildren(kids)).toEqual([]);
  });

  rootTest('100 concurrent restarts from one process each get their own creds', async () => {
    const runs = Array.from({ length: 100 }, (_, i) => {
      const b = new ImageBuilder();
      b.task(b.cred({ uid: 3000 + i, gid: 4000 + i, groups: [5000 + i], caps: { bounding: me.caps.bounding } }));
      return output(restart(b.build(), STATUS[0], STATUS.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] }));
    });
    const results = await Promise.all(runs);
    results.forEach((r, i) => {
      const s = parseStatus(r.out);
      expect([s.uids[0], s.gids[0], s.groups]).toEqual([3000 + i, 4000 + i, [5000 + i]]);
    });
  });
});

describe('restart(): the linux-cr path, through a stand-in for sys_restart', () => {
  // This kernel has no sys_restart; the stand-in (native/spawn_child.cc StandInRestart) checks
  // the image's magic and changes nothing, so the image holds the caller's own creds.
  function selfImage(): Image {
    const b = new ImageBuilder();
    b.task(b.cred({
      uid: me.uid, euid: me.euid, suid: me.suid, fsuid: me.fsuid, gid: me.gid, egid: me.egid, sgid: me.sgid, fsgid: me.fsgid,
      groups: me.groups, securebits: me.securebits, caps: { ...me.caps },
    }));
    return b.build();
  }

  rootTest('the child restores through the stand-in, verifies, and execs', async () => {
    const plan = restart(selfImage(), '/bin/true', [], { linuxCrStandIn: true, dryRun: true });
    expect(plan.path).toBe('linux-cr-stand-in');
    expect(plan.ops).toEqual([{ op: 'sys_restart' }]);
    expect((await restart(selfImage(), '/bin/true', [], { linuxCrStandIn: true, stdio: 'ignore' })).exitCode).toBe(0);
  });

  rootTest('a failing sys_restart comes back as RestartStepError for op sys_restart', async () => {
    const kids = childPids();
    const err = await restart(selfImage(), '/bin/true', [], { linuxCrStandIn: { errno: 22 }, stdio: 'ignore' }).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'EINVAL', phase: 'op', step: 0, op: 'sys_restart' });
    expect(newChildren(kids)).toEqual([]);
  });

  rootTest('the creds read back after the restart are still verified', async () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, caps: { bounding: me.caps.bounding } }));
    // The stand-in changes nothing, so the read-back (uid 0) differs from the image (uid 1000).
    await expect(restart(b.build(), '/bin/true', [], { linuxCrStandIn: true, stdio: 'ignore' })).rejects.toMatchObject({ phase: 'verify', field: 'uid' });
  });
});

describe('restart(): round trip with a live checkpoint', () => {
  rootTest('checkpoint a live process, stop it, restart from the image, checkpoint again: same creds', async () => {
    const { checkpoint } = require('../../lib/checkpoint') as typeof import('../../lib/checkpoint');
    const orig = nodeSpawn('/bin/sleep', ['30'], { uid: 1234, gid: 1234, stdio: 'ignore' });
    await new Promise((r) => orig.once('spawn', r));
    const a = await checkpoint(orig.pid!);
    orig.kill('SIGKILL');
    const h = restart(a, '/bin/sleep', ['30'], { stdio: 'ignore' });
    const b = await checkpoint(h.pid!);
    h.kill('SIGKILL');
    await h;
    const ta = a.tasks[0], tb = b.tasks[0];
    const strip = (c: Cred) => ({ ...c, user: { uid: c.user.uid }, groups: [...c.groups.gids] });
    expect(strip(tb.cred)).toEqual(strip(ta.cred));
    expect(strip(tb.ecred)).toEqual(strip(ta.ecred));
    expect(tb.noNewPrivs).toBe(ta.noNewPrivs);
  });
});

describe('restart(): refusals (root restarter)', () => {
  rootTest('an image asking for a bounding bit the caller lacks is refused, nothing started', () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, caps: { bounding: me.caps.bounding | capBit(CAP.SYS_RESOURCE) } }));
    const kids = childPids();
    expect(() => restart(b.build(), '/bin/true', [])).toThrow(RestartDenied);
    expect(newChildren(kids)).toEqual([]);
  });
});
