// restorePlan(): the syscall sequence a real restorer runs, checked by playing it in the emulator.
import { CAP, fullCapSet } from '../../lib/model/capabilities';
import { SECBIT } from '../../lib/model/types';
import { ImageBuilder } from '../../lib/format';
import { Emulator, restorePlan } from '../../lib/emulator';
import { bit, credShape, task } from './helpers';

describe('restorePlan', () => {
  test('root -> uid 1000 with CAP_NET_RAW kept and a locked securebit: the order that works', () => {
    const b = new ImageBuilder();
    const net = bit(CAP.NET_RAW);
    const bits = SECBIT.NOROOT | SECBIT.NOROOT_LOCKED;
    const t = b.task(b.cred({ uid: 1000, gid: 1000, groups: [27], caps: { inheritable: net, permitted: net, effective: net, ambient: net, bounding: fullCapSet(40) & ~bit(CAP.SYS_ADMIN) }, securebits: bits }));
    const emu = new Emulator('modern');
    const root = emu.initTask();
    const plan = restorePlan(t, root, 'modern');
    expect(plan.map((o) => o.op)).toEqual([
      'setgroups', 'setresgid', 'set_securebits', 'setresuid', 'capset', 'ambient_raise',
      'capbset_drop', 'set_securebits', 'capset',
    ]);
    expect(plan[2]).toEqual({ op: 'set_securebits', bits: SECBIT.NO_SETUID_FIXUP });
    const r = emu.applyAll(root, plan);
    expect(r.ok).toBe(true);
    expect(credShape(root.cred)).toEqual(credShape(t.cred));
  });

  test('a restarter without CAP_SETPCAP keeps its caps over the uid change with PR_SET_KEEPCAPS', () => {
    const emu = new Emulator('modern');
    const setuid = bit(CAP.SETUID) | bit(CAP.SETGID) | bit(CAP.KILL);
    const r = task(emu, { uid: 0, gid: 0, prm: setuid });
    const b = new ImageBuilder();
    const t = b.task(b.cred({ uid: 1000, gid: 1000, caps: { permitted: bit(CAP.KILL), effective: bit(CAP.KILL), bounding: fullCapSet(40) } }));
    const plan = restorePlan(t, r, 'modern');
    expect(plan.filter((o) => o.op === 'set_keepcaps')).toEqual([{ op: 'set_keepcaps', on: true }, { op: 'set_keepcaps', on: false }]);
    expect(emu.applyAll(r, plan).ok).toBe(true);
    expect(credShape(r.cred)).toEqual(credShape(t.cred));
  });

  test('nested namespaces: owner euid first, then unshare with the maps, then ids inside', () => {
    const b = new ImageBuilder();
    const m = [{ inside: 0, outside: 200000, count: 65536 }];
    const ns = b.namespace(b.user(200000), { uidMap: m, gidMap: m, setgroups: 'allow' });
    const t = b.task(b.cred({ uid: 500, gid: 500, user: b.user(500, ns), caps: { bounding: fullCapSet(40) } }));
    const emu = new Emulator('modern');
    const root = emu.initTask();
    const plan = restorePlan(t, root, 'modern');
    expect(plan.slice(0, 3).map((o) => o.op)).toEqual(['set_securebits', 'setresuid', 'unshare_user']);
    expect(emu.applyAll(root, plan).ok).toBe(true);
    expect(credShape(root.cred)).toEqual(credShape(t.cred));
  });

  test('seed profile: no ambient or no_new_privs ops, and the plan works on the seed kernel', () => {
    const b = new ImageBuilder();
    const t = b.task(b.cred({ uid: 1000, gid: 1000, groups: [5], caps: { bounding: fullCapSet(33) & ~bit(33) }, securebits: SECBIT.KEEP_CAPS }), { noNewPrivs: true });
    const emu = new Emulator('seed');
    const root = emu.initTask();
    const plan = restorePlan(t, root, 'seed');
    expect(plan.some((o) => o.op.startsWith('ambient') || o.op === 'set_no_new_privs')).toBe(false);
    expect(emu.applyAll(root, plan).ok).toBe(true);
    // The live syscalls drop cap 33 fine: only restart's loop has the bug.
    expect(credShape(root.cred)).toEqual(credShape(t.cred));
  });

  test('an unprivileged restarter: the first refused call says why', () => {
    const b = new ImageBuilder();
    const t = b.task(b.cred({ uid: 0, caps: { bounding: fullCapSet(40) } }));
    const emu = new Emulator('modern');
    const me = task(emu, { uid: 1001, gid: 1001 });
    const r = emu.applyAll(me, restorePlan(t, me, 'modern'));
    expect(r.ok).toBe(false);
    expect(r.steps.at(-1)).toMatchObject({ rule: 'setresgid.cap-setgid', errno: 'EPERM' });
  });
});
