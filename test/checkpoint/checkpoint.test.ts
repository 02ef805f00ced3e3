// checkpoint() of processes started with known creds, checked field by field after encode and
// decode. Needs root (CI runs as root): the processes set ids, caps and securebits freely.
import { execFileSync, spawn } from 'child_process';
import * as path from 'path';
import { checkpoint, checkpointTree, processTree, stopTracer, NotExpressibleError, ProcessGoneError, SecurebitsUnreadableError } from '../../lib/checkpoint';
import { checkpointForTests } from '../../lib/checkpoint/testing';
import { decode, encode, type Image } from '../../lib/format';
import { SECBIT, type Cred, type UserNamespace } from '../../lib/model/types';
import { native } from '../../lib/native/binding';
import { bpfTestsRun, credproc, expectUntraced, killAll, pollUntil, procStatus, waitExit, waitHeld } from './helpers/procs';

afterAll(killAll);

const roundTrip = (image: Image): Image => decode(encode(image));
const self = native().readThreadCreds();
const hex = (n: bigint) => n.toString(16);

async function one(args: string[], opts = {}): Promise<{ cred: Cred; image: Image; pid: number }> {
  const p = await credproc(args);
  const image = roundTrip(await checkpoint(p.pid, opts));
  expectUntraced(p.pid);
  expect(image.tasks).toHaveLength(1);
  expect(image.tasks[0].pids.vpid).toBe(p.pid);
  return { cred: image.tasks[0].cred, image, pid: p.pid };
}

/** Creator chain of a namespace, innermost first, up to the root (creator null). */
function chainOf(ns: UserNamespace): UserNamespace[] {
  const out: UserNamespace[] = [];
  for (let n: UserNamespace | undefined = ns; n && n.creator; n = n.creator.ns) out.push(n);
  return out;
}

describe('checkpoint of one live process', () => {
  test('all four uids and gids, distinct', async () => {
    // no_setuid_fixup keeps CAP_SETUID effective past setresuid, so fsuid can differ from all three
    const { cred } = await one(['--securebits=4', '--gids=1001,1002,1003,1004', '--uids=2001,2002,2003,2004']);
    expect([cred.uid, cred.euid, cred.suid, cred.fsuid]).toEqual([2001, 2002, 2003, 2004]);
    expect([cred.gid, cred.egid, cred.sgid, cred.fsgid]).toEqual([1001, 1002, 1003, 1004]);
    expect(cred.user.uid).toBe(2001);
    expect(cred.user.ns.creator).toBeNull(); // the caller's own namespace: the image's root
  });

  test.each([
    ['none', ['--no-groups'], []],
    ['one', ['--groups=42'], [42]],
    ['many, given out of order', ['--groups=300,7,65534,42,1000'], [7, 42, 300, 1000, 65534]],
  ])('groups: %s', async (_n, args, gids) => {
    const { cred } = await one(args);
    expect(cred.groups.gids).toEqual(gids);
  });

  test('every capability set, ambient and a reduced bounding set', async () => {
    const drop = (1n << 21n) | (1n << 16n); // CAP_SYS_ADMIN, CAP_SYS_MODULE
    const inh = (1n << 10n) | (1n << 12n);
    const prm = self.caps.permitted & ~((1n << 1n) | drop);
    const eff = prm & ~(1n << 7n);
    const amb = 1n << 10n;
    const { cred } = await one([`--bounding-drop=${hex(drop)}`, `--caps=${hex(inh)},${hex(prm)},${hex(eff)}`, `--ambient=${hex(amb)}`]);
    expect(cred.caps).toEqual({ inheritable: inh, permitted: prm, effective: eff, bounding: self.caps.bounding & ~drop, ambient: amb });
  });

  test.each([
    ['none', 0],
    ['keep_caps', SECBIT.KEEP_CAPS],
    ['noroot with no_setuid_fixup', SECBIT.NOROOT | SECBIT.NO_SETUID_FIXUP],
    ['noroot with no_setuid_fixup, locked', SECBIT.NOROOT | SECBIT.NOROOT_LOCKED | SECBIT.NO_SETUID_FIXUP | SECBIT.NO_SETUID_FIXUP_LOCKED],
    ['no_cap_ambient_raise (extension record)', SECBIT.NO_CAP_AMBIENT_RAISE],
  ])('securebits: %s', async (_n, bits) => {
    const { cred } = await one([`--securebits=${bits}`]);
    expect(cred.securebits).toBe(bits);
  });

  test('no_new_privs', async () => {
    const p = await credproc(['--nnp']);
    const q = await credproc([]);
    const image = roundTrip(await checkpoint([p.pid, q.pid]));
    expect(image.tasks.map((t) => t.noNewPrivs)).toEqual([true, false]);
    // the same creds otherwise: one cred object for both
    expect(image.tasks[0].cred).toBe(image.tasks[1].cred);
  });

  test('threads whose capabilities differ are two tasks with two creds', async () => {
    const p = await credproc(['--thread-eff=0']);
    const image = roundTrip(await checkpoint(p.pid, { threads: true }));
    expect(image.tasks).toHaveLength(2);
    const [leader, thread] = image.tasks;
    expect(leader.pids.vpid).toBe(p.pid);
    expect(thread.pids.vtgid).toBe(p.pid);
    expect(thread.pids.vpid).not.toBe(p.pid);
    expect(leader.cred.caps.effective).toBe(self.caps.effective);
    expect(thread.cred.caps.effective).toBe(0n);
    expect(thread.cred.caps.permitted).toBe(leader.cred.caps.permitted);
    expect(thread.cred.groups).toBe(leader.cred.groups); // shared, written once
    expect(thread.cred.user).toBe(leader.cred.user);
    expect((await checkpoint(p.pid)).tasks).toHaveLength(1);
  });

  test('a user namespace one level deep, with a uid set inside: ids as the task sees them', async () => {
    const { cred, image } = await one(['--nest=1', '--securebits=4', '--gids=9,9,9,9', '--uids=5,6,7,8']);
    expect([cred.uid, cred.euid, cred.suid, cred.fsuid]).toEqual([5, 6, 7, 8]);
    expect([cred.gid, cred.egid, cred.sgid, cred.fsgid]).toEqual([9, 9, 9, 9]);
    const ns = cred.user.ns;
    expect(ns.creator).toMatchObject({ uid: 0, ns: { creator: null } });
    expect(ns.uidMap).toEqual([{ inside: 0, outside: 100000, count: 65536 }]);
    expect(ns.gidMap).toEqual([{ inside: 0, outside: 100000, count: 65536 }]);
    expect(ns.setgroups).toBe('allow');
    expect(typeof ns.inode).toBe('bigint');
    expect(image.tasks[0].cred.user.uid).toBe(5);
  });

  test('a chain of 32 user namespaces with a ranged map at each', async () => {
    const p = await credproc(['--nest=32', '--uids=7,7,7,7']);
    expect(procStatus(p.pid).Uid.split(/\s+/)[0]).toBe(String(100000 + 31 + 7));
    const image = roundTrip(await checkpoint(p.pid));
    const cred = image.tasks[0].cred;
    expect(cred.uid).toBe(7);
    const chain = chainOf(cred.user.ns).reverse(); // outermost first
    expect(chain).toHaveLength(32);
    chain.forEach((ns, i) => {
      const count = i === 0 ? 65536 : 65536 - i;
      expect(ns.uidMap).toEqual([{ inside: 0, outside: i === 0 ? 100000 : 1, count }]);
      expect(ns.gidMap).toEqual(ns.uidMap);
      expect(ns.creator!.uid).toBe(0); // each level's creator is uid 0 of the level above
      expect(ns.creator!.ns).toBe(i === 0 ? image.tasks[0].cred.user.ns && chain[0].creator!.ns : chain[i - 1]);
    });
    expect(chain[0].creator!.ns.creator).toBeNull();
  });
});

describe('failures', () => {
  test('a process that exits mid-checkpoint: ProcessGoneError, nothing left traced', async () => {
    const p = await credproc([]);
    const q = await credproc([]);
    // Each held 2 s: the kill, sent as soon as q is done and p held, lands inside p's hold.
    const pending = checkpointForTests([q.pid, p.pid], { testDelayMs: 2000 });
    await waitHeld(q.pid);
    expect(await pollUntil(() => procStatus(q.pid).TracerPid === '0', 5000)).toBe(true); // q is done
    await waitHeld(p.pid);
    process.kill(p.pid, 'SIGKILL');
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessGoneError);
    expect(err).toMatchObject({ code: 'ESRCH', pid: p.pid });
    expectUntraced(q.pid);
  });

  test('a pid that does not exist', async () => {
    const p = await credproc([]);
    p.kill();
    await waitExit(p.child); // reaped: its pid is gone
    await expect(checkpoint(p.pid)).rejects.toBeInstanceOf(ProcessGoneError);
  });

  test('ptrace refused: a clear error, or securebits marked unknown (never 0) when allowed; the BPF reader reads them', async () => {
    const p = await credproc(['--securebits=16']);
    const tracer = spawn('strace', ['-qq', '-o', '/dev/null', '-p', String(p.pid)], { stdio: 'ignore' });
    try {
      expect(await pollUntil(() => procStatus(p.pid).TracerPid !== '0', 5000)).toBe(true); // strace holds it
      const viaPtrace = { securebitsReader: 'ptrace' } as const;
      const err = await checkpoint(p.pid, viaPtrace).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SecurebitsUnreadableError);
      expect((err as Error).message).toMatch(/EPERM/);
      const image = roundTrip(await checkpoint(p.pid, { ...viaPtrace, unknownSecurebits: 'mark' }));
      expect(image.tasks[0].cred.securebits).toBeNull();
      await expect(checkpoint(p.pid, { ...viaPtrace, unknownSecurebits: 'mark', compat: 'linux-cr' })).rejects.toBeInstanceOf(NotExpressibleError);
      // The BPF reader (root may load it: CI runs as root) never traces: strace's hold is no bar,
      // and strace still holds the task after.
      if (!bpfTestsRun()) return;
      expect(roundTrip(await checkpoint(p.pid, { securebitsReader: 'bpf' })).tasks[0].cred.securebits).toBe(16);
      expect(roundTrip(await checkpoint(p.pid, { securebitsReader: 'auto' })).tasks[0].cred.securebits).toBe(16);
      expect(procStatus(p.pid).TracerPid).toBe(String(tracer.pid));
    } finally {
      tracer.kill('SIGKILL');
    }
  });

  test("unknownSecurebits 'skip': no ptrace at all (no tracer, the task never traced), securebits unknown", async () => {
    const p = await credproc(['--securebits=16']);
    expect(stopTracer()).toBe(true);
    const before = native().helperPids(); // none, or helpers of earlier tests still exiting
    const image = roundTrip(await checkpoint(p.pid, { unknownSecurebits: 'skip' }));
    expect(image.tasks[0].cred.securebits).toBeNull();
    expect(image.tasks[0].cred.uid).toBe(0);
    expect(native().helperPids().filter((pid) => !before.includes(pid))).toEqual([]); // no tracer started
    expectUntraced(p.pid);
    await expect(checkpoint(p.pid, { unknownSecurebits: 'skip', compat: 'linux-cr' })).rejects.toBeInstanceOf(NotExpressibleError);
    expect(roundTrip(await checkpoint(p.pid)).tasks[0].cred.securebits).toBe(16); // read when not skipped
  });

  test("compat: 'linux-cr' takes a plain process and refuses ambient caps with a clear error", async () => {
    const plain = await credproc(['--securebits=16']);
    const image = await checkpoint(plain.pid, { compat: 'linux-cr' });
    expect(roundTrip(image).tasks[0].cred.securebits).toBe(16);
    expect(image.tasks[0].cred.user.ns.inode).toBeUndefined();
    const amb = await credproc(['--caps=400,' + hex(self.caps.permitted) + ',0', '--ambient=400']);
    const err = await checkpoint(amb.pid, { compat: 'linux-cr' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotExpressibleError);
    expect((err as Error).message).toMatch(/ambient/);
  });
});

describe('checkpointTree', () => {
  test('the root and all descendants, depths, shared objects written once', async () => {
    // sh -> (sleep, sleep)
    const sh = spawn('sh', ['-c', 'sleep 100 & sleep 100 & echo ready $$; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const shPid = await new Promise<number>((r) => sh.stdout!.on('data', (d: Buffer) => r(Number(/ready (\d+)/.exec(String(d))![1]))));
    const tree = async () => (await processTree(shPid)).map((t) => t.pid);
    let pids: number[] = [];
    try {
      for (let i = 0; i < 100 && pids.length < 3; i++) {
        await new Promise((r) => setTimeout(r, 20));
        pids = await tree();
      }
      const image = roundTrip(await checkpointTree(shPid));
      expect(image.tasks).toHaveLength(3);
      expect(image.tasks[0].pids).toMatchObject({ vpid: shPid, depth: 0 });
      expect(image.tasks.slice(1).map((t) => [t.pids.vppid, t.pids.depth])).toEqual([[shPid, 1], [shPid, 1]]);
      expect(new Set(image.tasks.map((t) => t.cred)).size).toBe(1);
      const whole = encode(image).byteLength;
      const apart = image.tasks.reduce((n, t) => n + encode({ ...image, tasks: [t] }).byteLength, 0);
      expect(whole).toBeLessThan(apart);
      for (const t of image.tasks) expectUntraced(t.pids.vpid);
    } finally {
      for (const pid of pids.reverse()) process.kill(pid, 'SIGKILL');
    }
  });

  test('a tree that holds the calling process: its securebits are the calling thread\'s', () => {
    // sh -> node (this script), which checkpoints its parent's tree, itself included, walked and
    // read at once (where BPF is there: CI) or walked first (elsewhere). (A securebit that keeps
    // root's capabilities across the exec: the reader is BPF where it may be.)
    const dist = path.join(__dirname, '..', '..', 'dist');
    const script = `
      const { checkpointTree } = require(${JSON.stringify(path.join(dist, 'checkpoint'))});
      const { native } = require(${JSON.stringify(path.join(dist, 'native', 'binding'))});
      const atOnce = native().readLiveTreeFlat(process.ppid, { unknownSecurebits: 'skip' }) !== null;
      checkpointTree(process.ppid).then((image) => {
        const me = image.tasks.find((t) => t.pids.vpid === process.pid);
        console.log(JSON.stringify({ atOnce, tasks: image.tasks.length, mine: me && me.cred.securebits }));
      }, (e) => console.log(JSON.stringify({ error: e.message })));`;
    const out = JSON.parse(
      execFileSync('setpriv', ['--securebits', '+no_setuid_fixup', 'sh', '-c', `${JSON.stringify(process.execPath)} -e "$0"; true`, script], { encoding: 'utf8' }),
    );
    expect(out).toEqual({ atOnce: true, tasks: 2, mine: SECBIT.NO_SETUID_FIXUP });
  });

  test('walked and read at once (no tracer, no listener): the tree and creds a walk, then a read, give', async () => {
    // python -> (a zombie, sleep (securebits of its own) -> sleep).
    const script = [
      'import os, time',
      'if os.fork() == 0: os._exit(0)',
      "if os.fork() == 0: os.execvp('setpriv', ['setpriv', '--securebits', '+noroot', 'sh', '-c', 'sleep 100 & exec sleep 100'])",
      'print(os.getpid(), flush=True)',
      'time.sleep(60)',
    ].join('\n');
    const root = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    const rootPid = Number(await new Promise<string>((r) => root.stdout!.once('data', (d) => r(String(d).trim()))));
    let walked: Awaited<ReturnType<typeof processTree>> = [];
    try {
      for (let i = 0; i < 100 && (walked.filter((t) => t.zombie).length < 1 || walked.length < 4); i++) {
        await new Promise((r) => setTimeout(r, 20));
        walked = await processTree(rootPid);
      }
      expect(walked.filter((t) => t.zombie)).toHaveLength(1);
      const pids = walked.filter((t) => !t.zombie).map((t) => t.pid);
      for (const reader of ['bpf', 'auto'] as const) {
        if (!bpfTestsRun()) break;
        const once = roundTrip(await checkpointTree(rootPid, { securebitsReader: reader }));
        // The same processes (the zombie left out), in the same order, each with the same parent
        // and creds as a walk and then a read of the pids give.
        const apart = roundTrip(await checkpoint(pids, { securebitsReader: reader }));
        expect(once.tasks.map((t) => [t.pids.vpid, t.pids.vppid, t.pids.depth])).toEqual(apart.tasks.map((t) => [t.pids.vpid, t.pids.vppid, t.pids.depth]));
        expect(once.tasks.map((t) => t.cred.securebits)).toEqual(apart.tasks.map((t) => t.cred.securebits));
        expect(once.tasks.map((t) => t.cred.securebits).filter((b) => b === SECBIT.NOROOT)).toHaveLength(2);
      }
      // Securebits skipped: no reader at all, walked and read at once all the same.
      const skipped = roundTrip(await checkpointTree(rootPid, { unknownSecurebits: 'skip' }));
      expect(skipped.tasks.map((t) => t.pids.vpid)).toEqual(pids);
      expect(skipped.tasks.map((t) => t.cred.securebits)).toEqual(pids.map(() => null));
      // With a listener, the walk and the read go as two steps: the same image.
      const phases: string[] = [];
      const stepped = roundTrip(await checkpointTree(rootPid, { onProgress: (p) => phases.push(p.phase) }));
      expect(new Set(phases)).toEqual(new Set(['tree', 'read']));
      expect(stepped.tasks.map((t) => t.pids.vpid)).toEqual(pids);
    } finally {
      for (const t of walked.reverse()) if (!t.zombie) process.kill(t.pid, 'SIGKILL');
    }
  });
});
