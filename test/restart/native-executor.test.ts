// The addon's restart child on the real kernel, driven by hand-made op lists: what each op
// does, what execve then makes of it, and how failures come back.
import * as fs from 'fs';
import { CAP, SECBIT, capBit, fullCapSet } from '../../lib/model';
import { native, type NativeRestartOp, type NativeStepFailure } from '../../lib/native/binding';
import { childPids, fdTargets, newChildren, newFds, nativeRun, parseReport, parseStatus, STATUS } from './helpers';

const probe = native().probe();
const FULL = fullCapSet(probe.capLastCap);
const me = native().readThreadCreds();

// These tests change ids and capabilities: they need root with CAP_SETUID/SETGID/SETPCAP.
// Under CI (root) they must run; elsewhere they are skipped with this reason.
const isRoot = process.getuid?.() === 0 && (me.caps.effective & capBit(CAP.SETPCAP)) !== 0n;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the restart executor tests must not skip');
const rootTest = isRoot ? test : test.skip;

function spawnFails(ops: NativeRestartOp[], extra: Partial<Parameters<ReturnType<typeof native>['spawn']>[0]> = {}): NativeStepFailure {
  try {
    native().spawn({ files: ['/bin/true'], argv: ['true'], envp: [], stdio: ['ignore', 'ignore', 'ignore'], ops, onExit: () => undefined, ...extra });
  } catch (e) {
    return e as NativeStepFailure;
  }
  throw new Error('spawn did not fail');
}

describe('restart child: ids and groups', () => {
  rootTest('setgroups, setresgid, setresuid, setfs[ug]id land field by field; caps go with root', async () => {
    const ops: NativeRestartOp[] = [
      { op: 'setgroups', gids: [5, 7, 100] },
      { op: 'setresgid', rgid: 100, egid: 101, sgid: 102 },
      { op: 'setresuid', ruid: 1000, euid: 1001, suid: 1002 },
      { op: 'setfsgid', fsgid: 102 },
      { op: 'setfsuid', fsuid: 1000 },
    ];
    const r = await nativeRun({ ops, argv: STATUS, expect: { uid: 1000, euid: 1001, suid: 1002, fsuid: 1000, gid: 100, egid: 101, sgid: 102, fsgid: 102, groups: [5, 7, 100] } });
    expect(r.code).toBe(0);
    const s = parseStatus(r.stdout);
    // execve sets saved and fs ids to the effective ones.
    expect(s.uids).toEqual([1000, 1001, 1001, 1001]);
    expect(s.gids).toEqual([100, 101, 101, 101]);
    expect(s.groups).toEqual([5, 7, 100]);
    expect(s.prm).toBe(0n);
    expect(s.eff).toBe(0n);
    expect(s.bnd).toBe(me.caps.bounding);
  });

  rootTest('the child reads back what the ops set, before execve (verify passes on every field)', async () => {
    const r = await nativeRun({
      ops: [{ op: 'setresuid', ruid: 0, euid: 4242, suid: 0 }],
      argv: STATUS,
      expect: { uid: 0, euid: 4242, suid: 0, fsuid: 4242, caps: { permitted: me.caps.permitted, effective: 0n } },
    });
    expect(r.code).toBe(0);
    // ruid 0 is still root for execve: permitted = inheritable | bounding, effective 0 (euid != 0).
    const s = parseStatus(r.stdout);
    expect(s.uids).toEqual([0, 4242, 4242, 4242]);
    expect(s.prm).toBe(me.caps.bounding);
    expect(s.eff).toBe(0n);
  });
});

describe('restart child: capabilities and securebits', () => {
  const NB = CAP.NET_BIND_SERVICE;
  const NR = CAP.NET_RAW;
  const both = capBit(NB) | capBit(NR);

  rootTest('keepcaps carries permitted across setresuid; ambient survives execve; execve clears KEEP_CAPS', async () => {
    const ops: NativeRestartOp[] = [
      { op: 'set_keepcaps', on: true },
      { op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 },
      { op: 'capset', inheritable: both, permitted: both, effective: both },
      { op: 'ambient_raise', cap: NB },
    ];
    const r = await nativeRun({
      ops,
      expect: { uid: 1000, caps: { inheritable: both, permitted: both, effective: both, ambient: capBit(NB) }, securebits: SECBIT.KEEP_CAPS },
    });
    expect(r.code).toBe(0);
    const c = parseReport(r.stdout);
    expect(c.uid).toBe(1000);
    expect(c.caps.inheritable).toBe(both);
    // A non-root exec of a plain file: permitted = effective = ambient.
    expect(c.caps.permitted).toBe(capBit(NB));
    expect(c.caps.effective).toBe(capBit(NB));
    expect(c.caps.ambient).toBe(capBit(NB));
    expect(c.securebits).toBe(0);
  });

  rootTest('without keepcaps, leaving uid 0 clears permitted: the capset then fails EPERM at its step', () => {
    const e = spawnFails([
      { op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 },
      { op: 'capset', inheritable: 0n, permitted: both, effective: both },
    ]);
    expect(e.code).toBe('EPERM');
    expect(e.phase).toBe('op');
    expect(e.step).toBe(1);
  });

  rootTest('SECBIT_NOROOT (locked) makes a root exec get no capabilities', async () => {
    const bits = SECBIT.NOROOT | SECBIT.NOROOT_LOCKED;
    const r = await nativeRun({ ops: [{ op: 'set_securebits', bits }], expect: { securebits: bits } });
    const c = parseReport(r.stdout);
    expect(c.uid).toBe(0);
    expect(c.securebits).toBe(bits);
    expect(c.caps.permitted).toBe(0n);
    expect(c.caps.effective).toBe(0n);
  });

  rootTest('a locked securebit cannot change: EPERM at that step', () => {
    const e = spawnFails([
      { op: 'set_securebits', bits: SECBIT.NOROOT | SECBIT.NOROOT_LOCKED },
      { op: 'set_securebits', bits: SECBIT.NOROOT_LOCKED },
    ]);
    expect([e.code, e.phase, e.step]).toEqual(['EPERM', 'op', 1]);
  });

  rootTest('bounding drops and no_new_privs reach the program', async () => {
    const r = await nativeRun({
      ops: [{ op: 'capbset_drop', cap: CAP.SYS_ADMIN }, { op: 'capbset_drop', cap: CAP.NET_RAW }, { op: 'set_no_new_privs' }],
      expect: { caps: { bounding: me.caps.bounding & ~capBit(CAP.SYS_ADMIN) & ~capBit(CAP.NET_RAW) }, noNewPrivs: true },
    });
    const c = parseReport(r.stdout);
    expect(c.caps.bounding).toBe(me.caps.bounding & ~capBit(CAP.SYS_ADMIN) & ~capBit(CAP.NET_RAW));
    // root exec: permitted = inheritable | bounding
    expect(c.caps.permitted).toBe(c.caps.bounding);
    expect(c.noNewPrivs).toBe(true);
  });
});

describe('restart child: user namespaces', () => {
  rootTest('one level with ranged maps and a uid set inside', async () => {
    const ops: NativeRestartOp[] = [
      { op: 'unshare_user', setgroups: 'deny', uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: 200000, count: 65536 }] },
      { op: 'setresgid', rgid: 50, egid: 50, sgid: 50 },
      { op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 },
    ];
    const r = await nativeRun({
      ops,
      argv: ['/bin/sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups /proc/self/status'],
      expect: { uid: 1000, euid: 1000, gid: 50, egid: 50 },
    });
    expect(r.code).toBe(0);
    const [uidMap, gidMap, setgroups] = r.stdout.split('\n');
    expect(uidMap.trim().split(/\s+/).map(Number)).toEqual([0, 100000, 65536]);
    expect(gidMap.trim().split(/\s+/).map(Number)).toEqual([0, 200000, 65536]);
    expect(setgroups).toBe('deny');
    const s = parseStatus(r.stdout);
    expect(s.uids).toEqual([1000, 1000, 1000, 1000]);
    expect(s.gids).toEqual([50, 50, 50, 50]);
    expect(s.prm).toBe(0n);
    // The namespace's creator was given every capability in it, and its full bounding set.
    expect(s.bnd).toBe(FULL);
  });

  rootTest('a chain 32 levels deep, each level mapped by ranges from the one above', async () => {
    const ops: NativeRestartOp[] = [];
    let count = 65536;
    ops.push({ op: 'unshare_user', setgroups: 'allow', uidMap: [{ inside: 0, outside: 100000, count }], gidMap: [{ inside: 0, outside: 100000, count }] });
    for (let level = 2; level <= 32; level++) {
      count -= 1;
      // unshare needs the caller's euid and egid mapped in its own level: be that level's root.
      ops.push({ op: 'setresgid', rgid: 0, egid: 0, sgid: 0 }, { op: 'setresuid', ruid: 0, euid: 0, suid: 0 });
      ops.push({ op: 'unshare_user', setgroups: 'allow', uidMap: [{ inside: 0, outside: 1, count }], gidMap: [{ inside: 0, outside: 1, count }] });
    }
    ops.push({ op: 'setgroups', gids: [7] }, { op: 'setresgid', rgid: 6, egid: 6, sgid: 6 }, { op: 'setresuid', ruid: 5, euid: 5, suid: 5 });
    const r = await nativeRun({ ops, argv: ['/bin/sh', '-c', 'cat /proc/self/status; sleep 0.5'], expect: { uid: 5, gid: 6, groups: [7] } });
    expect(r.code).toBe(0);
    const s = parseStatus(r.stdout);
    expect(s.uids).toEqual([5, 5, 5, 5]);
    expect(s.groups).toEqual([7]);
  });

  rootTest('the chain seen from outside: the program runs at depth 32 with the outer ids', async () => {
    const ops: NativeRestartOp[] = [];
    let count = 65536;
    ops.push({ op: 'unshare_user', uidMap: [{ inside: 0, outside: 100000, count }], gidMap: [{ inside: 0, outside: 100000, count }] });
    for (let level = 2; level <= 32; level++) {
      count -= 1;
      ops.push({ op: 'setresgid', rgid: 0, egid: 0, sgid: 0 }, { op: 'setresuid', ruid: 0, euid: 0, suid: 0 });
      ops.push({ op: 'unshare_user', uidMap: [{ inside: 0, outside: 1, count }], gidMap: [{ inside: 0, outside: 1, count }] });
    }
    ops.push({ op: 'setresuid', ruid: 5, euid: 5, suid: 5 });
    const done = new Promise<void>((resolve) => {
      const c = native().spawn({
        files: ['/bin/sleep'], argv: ['sleep', '5'], envp: [], stdio: ['ignore', 'ignore', 'ignore'], ops, expect: { uid: 5 },
        onExit: () => resolve(),
      });
      const status = parseStatus(fs.readFileSync(`/proc/${c.pid}/status`, 'utf8'));
      // uid 5 of level 32 is 100000 + 31 + 5 here: each level below the first shifts by one.
      expect(status.uids).toEqual([100036, 100036, 100036, 100036]);
      expect(fs.readlinkSync(`/proc/${c.pid}/ns/user`)).not.toBe(fs.readlinkSync('/proc/self/ns/user'));
      expect(c.kill(15)).toBe(true);
    });
    await done;
  });

  rootTest('a map the kernel rejects fails at its step, naming the file', () => {
    const e = spawnFails([
      // Overlapping extents: EINVAL from the uid_map write.
      { op: 'unshare_user', uidMap: [{ inside: 0, outside: 100000, count: 10 }, { inside: 5, outside: 300000, count: 10 }] },
    ]);
    expect([e.code, e.phase, e.step, e.field]).toEqual(['EINVAL', 'op', 0, 'uid_map']);
  });
});

describe('restart child: failures come back typed, nothing is left behind', () => {
  rootTest('EPERM at the failing step', () => {
    const e = spawnFails([
      { op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 },
      { op: 'setresuid', ruid: 0, euid: 0, suid: 0 },
    ]);
    expect([e.code, e.phase, e.step]).toEqual(['EPERM', 'op', 1]);
  });

  rootTest('a read-back that differs aborts before execve, naming the field and both values', () => {
    const e = spawnFails([{ op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 }], { expect: { uid: 1000, fsgid: 77 } });
    expect([e.phase, e.field, e.expected, e.actual]).toEqual(['verify', 'fsgid', 77n, 0n]);
  });

  test('execve of a missing file: ENOENT; a directory candidate: EACCES', () => {
    expect(spawnFails([], { files: ['/nonexistent/x'] })).toMatchObject({ code: 'ENOENT', phase: 'execve' });
    expect(spawnFails([], { files: ['/nonexistent/x', '/tmp'] })).toMatchObject({ code: 'EACCES', phase: 'execve' });
    expect(spawnFails([], { cwd: '/nonexistent' })).toMatchObject({ code: 'ENOENT', phase: 'chdir' });
  });

  test('the syscall numbers 312-314 are never issued for sys_restart', () => {
    for (const nr of [312, 313, 314]) {
      expect(() =>
        native().spawn({
          files: ['/bin/true'], argv: ['true'], envp: [], stdio: ['ignore', 'ignore', 'ignore'],
          ops: [{ op: 'sys_restart' }], sysRestart: { image: new Uint8Array(16), standIn: false, nr }, onExit: () => undefined,
        }),
      ).toThrow(/refusing sys_restart syscall number/);
    }
  });

  rootTest('1,000 failed restarts leave fds and children as they were', () => {
    const fds = fdTargets();
    const kids = childPids();
    for (let i = 0; i < 1000; i++) {
      const ops: NativeRestartOp[] =
        i % 2 === 0
          ? [{ op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 }, { op: 'setresuid', ruid: 0, euid: 0, suid: 0 }]
          : [{ op: 'unshare_user', uidMap: [{ inside: 0, outside: 1, count: 1 }, { inside: 0, outside: 2, count: 1 }] }];
      const e = spawnFails(ops, { stdio: ['pipe', 'pipe', 'ignore'] });
      expect(e.phase).toBe('op');
    }
    expect(newFds(fds)).toEqual([]);
    expect(newChildren(kids)).toEqual([]);
  });

  test('kill() signals through the pidfd; exit reports the signal; kill after exit is false', async () => {
    let kill!: (s?: number) => boolean;
    const exit = await new Promise<{ code: number | null; signal: number | null }>((resolve) => {
      const c = native().spawn({
        files: ['/bin/sleep'], argv: ['sleep', '30'], envp: [], stdio: ['ignore', 'ignore', 'ignore'], ops: [],
        onExit: (code, signal) => resolve({ code, signal }),
      });
      kill = c.kill;
      expect(c.kill(15)).toBe(true);
    });
    expect(exit).toEqual({ code: null, signal: 15 });
    expect(kill(15)).toBe(false);
  });

  test('the program starts with default signal dispositions and an empty mask', async () => {
    const r = await nativeRun({ ops: [], argv: ['/bin/sh', '-c', 'grep -E "^Sig(Blk|Ign)" /proc/self/status'] });
    expect(r.stdout).toMatch(/SigBlk:\s*0+\n/);
    expect(r.stdout).toMatch(/SigIgn:\s*0+\n/);
  });
});
