// restorePlan(): the syscall sequence a real restorer runs (restart()'s child runs exactly these,
// see test/restart/emulator-plan.test.ts), checked by playing it in the emulator.
import { CAP, fullCapSet } from '../../lib/model/capabilities';
import { SECBIT } from '../../lib/model/types';
import { ImageBuilder } from '../../lib/format';
import { Emulator, OVERFLOW_ID, playRestorePlan, restorePlan } from '../../lib/emulator';
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

  test('a restarter whose fsuid and fsgid differ from its euid and egid restores its own cred: no setres*id, the fs ids stay (restart and plan agree)', () => {
    // setres[ug]id would reset the fs id to the e id and then setfs[ug]id could not go back
    // without CAP_SET[UG]ID; the plan leaves unchanged ids alone, and restart() judges the same.
    const emu = new Emulator('modern');
    const who = { uid: 1, euid: 1, suid: 1, fsuid: 2, gid: 1, egid: 1, sgid: 1, fsgid: 3, bnd: 0n };
    const r = task(emu, who);
    const b = new ImageBuilder();
    const t = b.task(b.cred({ uid: 1, euid: 1, suid: 1, fsuid: 2, gid: 1, egid: 1, sgid: 1, fsgid: 3, caps: { bounding: 0n } }));
    const out = emu.restart(b.build(), r);
    expect(out.steps.filter((s) => !s.allowed)).toEqual([]);
    expect(out.ok).toBe(true);
    const plan = restorePlan(t, r, 'modern');
    expect(plan.filter((o) => o.op.startsWith('setres') || o.op.startsWith('setfs'))).toEqual([]);
    const w = task(emu, who);
    expect(emu.applyAll(w, plan).ok).toBe(true);
    expect(credShape(w.cred)).toEqual(credShape(t.cred));
    expect(credShape(out.restored[0].cred)).toEqual(credShape(t.cred));
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

  test('nested: an id the unshare left unmapped is set again before the next unshare (the kernel keeps the unmapped one)', () => {
    const b = new ImageBuilder();
    const ns = b.namespace(b.user(0), { uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: 100000, count: 65536 }], setgroups: 'allow' });
    const inner = b.namespace(b.user(0, ns), { uidMap: [{ inside: 0, outside: 1000, count: 1000 }], gidMap: [{ inside: 0, outside: 1000, count: 1000 }], setgroups: 'allow' });
    const t = b.task(b.cred({ uid: 7, gid: 8, groups: [9], user: b.user(7, inner), caps: { bounding: fullCapSet(40) } }));
    const emu = new Emulator('modern');
    const root = emu.initTask();
    const plan = restorePlan(t, root, 'modern');
    // Root's ids 0 have no mapping in the first level: they read as 65534, which that level maps,
    // but the kernel refuses the second unshare unless euid and egid are set to mapped ids first.
    const first = plan.findIndex((o) => o.op === 'unshare_user');
    const second = plan.findIndex((o, i) => i > first && o.op === 'unshare_user');
    expect(emu.applyAll(root, plan.slice(0, first + 1)).ok).toBe(true);
    expect([root.cred.euid, root.cred.egid]).toEqual([OVERFLOW_ID, OVERFLOW_ID]);
    expect(plan.slice(first + 1, second + 1)).toEqual([
      { op: 'setresgid', rgid: -1, egid: 1000, sgid: -1 },
      { op: 'setresuid', ruid: -1, euid: 0, suid: -1 },
      expect.objectContaining({ op: 'unshare_user' }),
    ]);
    expect(emu.applyAll(root, plan.slice(first + 1)).ok).toBe(true);
    expect(credShape(root.cred)).toEqual(credShape(t.cred));
  });

  test("playRestorePlan: the emulator's verdict on each op and its prediction are those of playing the ops", () => {
    const b = new ImageBuilder();
    const net = bit(CAP.NET_RAW);
    const t = b.task(b.cred({ uid: 1000, gid: 1000, groups: [27], caps: { inheritable: net, permitted: net, effective: net, ambient: net, bounding: fullCapSet(40) } }), { noNewPrivs: true });
    const emu = new Emulator('modern');
    const root = emu.initTask();
    const played = playRestorePlan(t, root, 'modern');
    expect(played.ops).toEqual(restorePlan(t, root, 'modern'));
    const r = emu.applyAll(root, played.ops);
    expect(played.steps.map((s) => [s.rule, s.allowed])).toEqual(r.steps.map((s) => [s.rule, s.allowed]));
    expect(played.refused).toBe(-1);
    expect(credShape(played.cred)).toEqual(credShape(root.cred));
    expect(credShape(played.cred)).toEqual(credShape(t.cred));
    expect(played.noNewPrivs).toBe(true);
    // A refusal is the index of the first refused op (the child would stop there).
    const me = task(emu, { uid: 1001, gid: 1001 });
    const denied = playRestorePlan(t, me, 'modern');
    expect(denied.refused).toBeGreaterThanOrEqual(0);
    expect(denied.steps[denied.refused]).toMatchObject({ allowed: false });
    expect(denied.steps.slice(0, denied.refused).every((s) => s.allowed)).toBe(true);
  });

  test('no capabilities needed after the uid change: no keep-caps dance; unknown securebits end as the restarter\'s', () => {
    const b = new ImageBuilder();
    const plain = b.task(b.cred({ uid: 1000, gid: 1000, groups: [4], caps: { bounding: fullCapSet(40) } }));
    const emu = new Emulator('modern');
    const root = emu.initTask();
    expect(restorePlan(plain, root, 'modern').map((o) => o.op)).toEqual(['setgroups', 'setresgid', 'setresuid', 'capset']);
    // Unknown securebits (an image taken without ptrace): whatever the uid change needed is undone.
    const unknown = b.task(b.cred({ uid: 1000, gid: 1000, securebits: null, caps: { permitted: bit(CAP.KILL), effective: bit(CAP.KILL), bounding: fullCapSet(40) } }));
    const played = playRestorePlan(unknown, root, 'modern');
    expect(played.ops).toContainEqual({ op: 'set_securebits', bits: SECBIT.NO_SETUID_FIXUP });
    expect(played.refused).toBe(-1);
    expect(played.cred.securebits).toBe(root.cred.securebits);
    expect(played.cred.caps.permitted).toBe(bit(CAP.KILL));
  });
});
