// Every disagreement the agreement harness found between the emulator and the kernel, shrunk to
// its smallest form, with the kernel's answer written down. The emulator half runs everywhere
// (its rule was fixed to this answer); the kernel half proves the answer on this machine.
import { Emulator, kernelProfile, type EmuTask } from '../../lib/emulator';
import type { AgreementCase } from '../../lib/agreement';
import type { CredOp } from '../../lib/model/ops';
import { native } from '../../lib/native/binding';
import { getHarness, kernelTest } from './helpers';

/** The emulator from a root task with every capability (the harness's start, without the host). */
function emulate(ops: readonly CredOp[]): { task: EmuTask; outcomes: (string | null)[] } {
  const emu = new Emulator(kernelProfile('modern', { lastCap: native().probe().capLastCap }));
  const task = emu.forkTask(emu.initTask());
  const outcomes = ops.map((op) => {
    const r = emu.apply(task, op);
    return r.ok ? null : (r.errno ?? '?');
  });
  return { task, outcomes };
}

interface Regression {
  name: string;
  c: AgreementCase;
  /** The kernel's errno per op of start ++ ops (execve excluded). */
  outcomes: (string | null)[];
  /** Fields of the final creds (after execve, when there is one). */
  creds: Record<string, unknown>;
}

const NO_CAPS: CredOp = { op: 'capset', inheritable: 0n, permitted: 0n, effective: 0n };

const REGRESSIONS: Regression[] = [
  {
    // 6.14+: SECURE_ALL_UNPRIVILEGED (exec-restriction bits and their locks) need no CAP_SETPCAP.
    name: 'securebits: the exec-restriction bits are settable without CAP_SETPCAP',
    c: { start: [NO_CAPS], ops: [{ op: 'set_securebits', bits: 0x200 }, { op: 'set_securebits', bits: 0x200 }, { op: 'set_securebits', bits: 0x201 }] },
    outcomes: [null, null, 'EPERM', 'EPERM'],
    creds: { securebits: 0x200 },
  },
  {
    // __sys_setresuid returns early when nothing changes: fsuid keeps what setfsuid gave it.
    name: 'setresuid: a no-op commits nothing, fsuid stays',
    c: { start: [], ops: [{ op: 'setfsuid', fsuid: 1 }, { op: 'setresuid', ruid: 0, euid: -1, suid: 0 }] },
    outcomes: [null, null],
    creds: { fsuid: 1, euid: 0 },
  },
  {
    name: 'setresgid: a no-op commits nothing, fsgid stays',
    c: { start: [{ op: 'setresgid', rgid: 1000, egid: 0, sgid: 0 }], ops: [{ op: 'setfsgid', fsgid: 65533 }, { op: 'setresgid', rgid: 1000, egid: -1, sgid: -1 }] },
    outcomes: [null, null, null],
    creds: { fsgid: 65533, egid: 0 },
  },
  {
    // verify_root_map runs before the one-line own-uid exception of new_idmap_permitted.
    name: "uid_map: mapping the parent's uid 0 needs CAP_SETFCAP even as one's own one-line map",
    c: { start: [NO_CAPS], ops: [{ op: 'unshare_user', uidMap: [{ inside: 0, outside: 0, count: 1 }] }] },
    outcomes: [null, 'EPERM'],
    creds: { uid: 65534, euid: 65534 },
  },
  {
    // The map writer opens /proc/PID/uid_map (0644, owned by the task's euid) with its fsuid.
    name: 'unshare_user: a writer whose fsuid is not its euid, without CAP_DAC_OVERRIDE, cannot open the map files',
    c: { start: [], ops: [{ op: 'setfsuid', fsuid: 100000 }, { op: 'unshare_user', uidMap: [{ inside: 0, outside: 0, count: 1 }] }] },
    outcomes: [null, 'EACCES'],
    creds: { uid: 65534, fsuid: 65534 },
  },
  {
    // bprm_fill_uid ignores set-id bits unless BOTH owner ids are mapped in the task's namespace.
    name: 'execve: a set-group-ID file whose owner uid is unmapped runs without the setgid',
    c: {
      start: [{ op: 'unshare_user', uidMap: [{ inside: 0, outside: 1000, count: 1002 }], gidMap: [{ inside: 0, outside: 0, count: 4294967295 }] }],
      ops: [{ op: 'execve', path: 'reporter', file: { setgid: { gid: 1000 }, owner: { uid: -1 } } }],
    },
    outcomes: [null],
    creds: { egid: 0, sgid: 0 },
  },
  // Unmapped ids: the kernel keeps a task's kernel ids when a namespace does not map them (they
  // show as 65534) and compares those; the model used to merge them all into one 65534.
  {
    // Found by the launcher property test (seed 833890469): map_write maps each line through ONE
    // line of the parent's map (map_id_range_down); 0..29 spans the parent's "0 0 1" and "1 1000 1002".
    name: 'gid_map: a line whose range spans two lines of the parent map is refused (EPERM)',
    c: {
      start: [{ op: 'unshare_user', setgroups: 'allow', uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 1 }, { inside: 1, outside: 1000, count: 1002 }] }],
      ops: [{ op: 'unshare_user', setgroups: 'allow', uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 30 }] }],
    },
    outcomes: [null, 'EPERM'],
    creds: { uid: 0, gid: 65534 },
  },
  {
    // Found with seed 42 (10,000 cases). gid_map refused: egid (kgid 0) and fsgid (kgid 65533)
    // both show as 65534, yet egid is in no group (in_group_p): the ids "change", and under
    // no_new_privs execve sets euid to the (unmapped) uid.
    name: 'execve: an egid and an fsgid that both show as 65534 are two kernel gids (in_group_p; no_new_privs)',
    c: {
      start: [],
      ops: [
        { op: 'setresgid', rgid: 65533, egid: -1, sgid: 0 },
        { op: 'setresuid', ruid: -1, euid: 1, suid: 0 },
        { op: 'setfsgid', fsgid: 65533 },
        { op: 'set_no_new_privs' },
        { op: 'unshare_user', uidMap: [{ inside: 0, outside: 1, count: 1 }], gidMap: [{ inside: 0, outside: 1000, count: 1002 }] },
        { op: 'execve', path: 'reporter', file: { setuid: { uid: 0 }, owner: { gid: -1 } } },
      ],
    },
    outcomes: [null, null, null, null, 'EPERM'],
    creds: { uid: 65534, euid: 65534, suid: 65534, fsuid: 65534, egid: 65534 },
  },
  {
    // Found with seed 42. The same with no gid_map written at all.
    name: 'execve: an egid and an fsgid unmapped for want of a gid_map are two kernel gids',
    c: {
      start: [{ op: 'set_no_new_privs' }],
      ops: [
        { op: 'setfsgid', fsgid: 65533 },
        { op: 'setresuid', ruid: 2000, euid: -1, suid: 0 },
        { op: 'unshare_user', uidMap: [{ inside: 0, outside: 0, count: 1 }] },
        { op: 'execve', path: 'reporter' },
      ],
    },
    outcomes: [null, null, null, null],
    creds: { uid: 65534, euid: 65534, suid: 65534, fsuid: 65534 },
  },
  {
    // Found with seed 99. create_user_ns: the egid (kgid 100000) has no mapping in the caller's
    // namespace, though the 65534 it shows as has one: EPERM, the task stays where it is.
    name: 'unshare_user: an egid shown as 65534 is unmapped even where 65534 is mapped (EPERM)',
    c: {
      start: [{ op: 'setresgid', rgid: 0, egid: 100000, sgid: 0 }],
      ops: [
        { op: 'unshare_user', uidMap: [{ inside: 0, outside: 0, count: 4294967295 }], gidMap: [{ inside: 0, outside: 0, count: 65536 }] },
        { op: 'unshare_user', uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 4294967295 }] },
      ],
    },
    outcomes: [null, null, 'EPERM'],
    creds: { uid: 0, euid: 0, gid: 0, egid: 65534, sgid: 0, fsgid: 65534 },
  },
  {
    // Not from the generator (it never asks for 65534): a real, mapped 65534 is none of the
    // caller's uids when its suid shows as 65534 for want of a mapping: CAP_SETUID needed.
    name: 'setresuid: a mapped 65534 is not the caller\'s unmapped suid that shows as 65534',
    c: {
      start: [{ op: 'setresuid', ruid: -1, euid: -1, suid: 100000 }],
      ops: [{ op: 'unshare_user', uidMap: [{ inside: 0, outside: 0, count: 65536 }], gidMap: [{ inside: 0, outside: 0, count: 65536 }] }, NO_CAPS, { op: 'setresuid', ruid: -1, euid: -1, suid: 65534 }],
    },
    outcomes: [null, null, null, 'EPERM'],
    creds: { uid: 0, suid: 65534 },
  },
  {
    // Not from the generator: an unmapped supplementary group (kgid 100000, shown as 65534) does
    // not make the task a member of a mapped 65534: a set-group-ID 65534 file changes its ids,
    // which clears the ambient set.
    name: 'execve: a mapped 65534 is not an unmapped supplementary group that shows as 65534',
    c: {
      start: [{ op: 'setgroups', gids: [100000] }],
      ops: [
        { op: 'unshare_user', uidMap: [{ inside: 0, outside: 0, count: 65536 }], gidMap: [{ inside: 0, outside: 0, count: 65536 }] },
        { op: 'capset', inheritable: 1n << 21n, permitted: (1n << 21n) | (1n << 6n), effective: 1n << 21n },
        { op: 'ambient_raise', cap: 21 },
        { op: 'execve', path: 'reporter', file: { setgid: { gid: 65534 } } },
      ],
    },
    outcomes: [null, null, null, null],
    creds: { egid: 65534, caps: { ambient: 0n } },
  },
];

describe('kernel-agreement regressions', () => {
  for (const r of REGRESSIONS) {
    test(`emulator: ${r.name}`, () => {
      const ops = [...r.c.start, ...r.c.ops];
      const e = emulate(ops);
      const plain = ops.filter((o) => o.op !== 'execve');
      expect(e.outcomes.slice(0, plain.length)).toEqual(r.outcomes);
      expect(e.task.ecred).toMatchObject(Object.fromEntries(Object.entries(r.creds).filter(([k]) => k !== 'securebits')));
      if ('securebits' in r.creds) expect(e.task.ecred.securebits).toBe(r.creds.securebits);
    });
    kernelTest(`kernel: ${r.name}`, () => {
      const res = getHarness().run(r.c);
      expect(res.kernel.outcomes).toEqual(r.outcomes);
      expect(res.kernel.exec?.creds ?? res.kernel.creds).toMatchObject(r.creds);
      expect(res.disagreements).toEqual([]);
    });
  }
});
