// The remaining rules, one test each (see docs/emulator.md for the list).
import { CAP, fullCapSet } from '../../lib/model/capabilities';
import { ImageBuilder } from '../../lib/format';
import { Emulator, predictExec, restorePlan } from '../../lib/emulator';
import { bit, makeCred, run, task } from './helpers';

const FULL = fullCapSet(40);

test('setgroups-file.reenable: "allow" under a parent that denies is EPERM', () => {
  const emu = new Emulator('modern');
  const t = task(emu, { uid: 1000, gid: 1000 });
  const one = [{ inside: 0, outside: 1000, count: 1 }];
  expect(run(emu, t, { op: 'unshare_user', setgroups: 'deny', uidMap: one, gidMap: one }).ok).toBe(true);
  const inner = [{ inside: 0, outside: 0, count: 1 }];
  expect(run(emu, t, { op: 'unshare_user', setgroups: 'allow', uidMap: inner }).step).toMatchObject({ rule: 'setgroups-file.reenable', errno: 'EPERM' });
  // The failed write leaves the task in the new namespace, maps unwritten, as on a real kernel.
  expect(t.cred.uid).toBe(65534);
});

test('uid_map.root-needs-setfcap: mapping the parent\'s uid 0 needs CAP_SETFCAP there', () => {
  const emu = new Emulator('modern');
  const t = task(emu, { uid: 0, prm: FULL & ~bit(CAP.SETFCAP) });
  expect(run(emu, t, { op: 'unshare_user', uidMap: [{ inside: 0, outside: 0, count: 10 }] }).step)
    .toMatchObject({ rule: 'uid_map.root-needs-setfcap', errno: 'EPERM' });
  const u = task(emu, { uid: 0, prm: FULL & ~bit(CAP.SETFCAP) });
  expect(run(emu, u, { op: 'unshare_user', uidMap: [{ inside: 0, outside: 1, count: 10 }] }).ok).toBe(true);
});

test('userns.owner-unmapped: a task whose euid shows as 65534 cannot create a namespace', () => {
  const emu = new Emulator('modern');
  const t = emu.initTask();
  run(emu, t, { op: 'unshare_user' });
  expect(t.cred.euid).toBe(65534);
  expect(run(emu, t, { op: 'unshare_user' }).step).toMatchObject({ rule: 'userns.owner-unmapped', errno: 'EPERM' });
});

test('ambient.invalid-cap: a capability past cap_last_cap is EINVAL (lastCap option)', () => {
  const emu = new Emulator({ ...new Emulator('modern').profile, lastCap: 37 });
  const t = emu.initTask();
  expect(run(emu, t, { op: 'ambient_raise', cap: 38 }).step).toMatchObject({ rule: 'ambient.invalid-cap', errno: 'EINVAL' });
  expect(t.cred.caps.permitted).toBe(fullCapSet(37));
});

test('execve.root-setuid-with-fcaps: a setuid-root file with file caps run by non-root gets only its file caps', () => {
  const emu = new Emulator('modern');
  const c = makeCred(emu, { uid: 1000 });
  const n = predictExec(c, false, { setuid: { uid: 0 }, fileCaps: { permitted: bit(CAP.NET_RAW), inheritable: 0n, effective: true } }, 'modern');
  expect(n.euid).toBe(0);
  expect(n.caps.permitted).toBe(bit(CAP.NET_RAW));
});

test('execve.file-caps-rootid-foreign: v3 file caps of another namespace\'s root do not apply', () => {
  const emu = new Emulator('modern');
  const t = emu.initTask();
  run(emu, t, { op: 'unshare_user', uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: 100000, count: 65536 }] });
  const inNs = { ...t.cred, uid: 1000, euid: 1000, suid: 1000, fsuid: 1000, caps: { ...t.cred.caps, permitted: 0n, effective: 0n } };
  const fc = (rootid: number) => ({ fileCaps: { permitted: bit(CAP.NET_RAW), inheritable: 0n, effective: true, rootid } });
  expect(predictExec(inNs, false, fc(100000), 'modern').caps.permitted).toBe(bit(CAP.NET_RAW));
  expect(predictExec(inNs, false, fc(200000), 'modern').caps.permitted).toBe(0n);
});

describe('restart rules', () => {
  const emu = () => new Emulator('modern');

  test('user.unmapped: a user in a namespace without that id in its map is EINVAL', () => {
    const b = new ImageBuilder();
    const m = [{ inside: 0, outside: 0, count: 10 }];
    const ns = b.namespace(b.user(0), { uidMap: m, gidMap: m });
    b.task(b.cred({ uid: 0, caps: { bounding: FULL } }));
    b.task(b.cred({ uid: 50, gid: 0, user: b.user(50, ns), caps: { bounding: FULL } }));
    const e = emu();
    const out = e.restart(b.build(), e.initTask());
    expect(out.tasks[1]).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(out.steps.find((s) => !s.allowed)).toMatchObject({ rule: 'user.unmapped' });
  });

  test('setfsuid.sequential: without CAP_SETUID the fsuid must be one of the new ids', () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, euid: 1000, suid: 1000, fsuid: 2000, gid: 1000, caps: { bounding: FULL } }));
    const e = emu();
    const me = task(e, { uid: 1000, euid: 2000, suid: 1000, gid: 1000 });
    const out = e.restart(b.build(), me);
    expect(out.steps.filter((s) => !s.allowed).map((s) => s.rule)).toEqual(['setfsuid.sequential']);
  });

  test('groups.setgroups-denied: other groups when the restarter\'s own namespace denies setgroups', () => {
    const e = emu();
    // The restarter is the owner of a namespace with setgroups "deny": every cap, but no setgroups.
    const r = task(e, { uid: 1000, gid: 1000 });
    const one = [{ inside: 0, outside: 1000, count: 1 }];
    expect(e.applyAll(r, [{ op: 'unshare_user', setgroups: 'deny', uidMap: one, gidMap: one }]).ok).toBe(true);
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 0, gid: 0, groups: [0], caps: { bounding: FULL } }));
    const out = e.restart(b.build(), r);
    expect(out.steps.find((s) => !s.allowed)).toMatchObject({ rule: 'groups.setgroups-denied', errno: 'EPERM' });
  });

  test('groups in a "deny" namespace are set one level up, before unsharing (restart and plan agree)', () => {
    const b = new ImageBuilder();
    const m = [{ inside: 0, outside: 0, count: 100 }];
    const ns = b.namespace(b.user(0), { uidMap: m, gidMap: m, setgroups: 'deny' });
    b.task(b.cred({ uid: 0, caps: { bounding: FULL } }));
    const t = b.task(b.cred({ uid: 0, groups: [7], user: b.user(0, ns), caps: { bounding: FULL } }));
    const e = emu();
    const out = e.restart(b.build(), e.initTask());
    expect(out.ok).toBe(true);
    const root = e.initTask();
    const plan = restorePlan(t, root, 'modern');
    expect(plan.findIndex((o) => o.op === 'setgroups')).toBeLessThan(plan.findIndex((o) => o.op === 'unshare_user'));
    expect(e.applyAll(root, plan).ok).toBe(true);
    expect(root.cred.groups.gids).toEqual([7]);
  });

  test('rootless: groups inherited into a "deny" namespace (unmapped ones as 65534) need no call', () => {
    const e = emu();
    const me = task(e, { uid: 1000, gid: 1000, groups: [4, 24, 1000] });
    const one = [{ inside: 0, outside: 1000, count: 1 }];
    expect(e.applyAll(me, [{ op: 'unshare_user', setgroups: 'deny', uidMap: one, gidMap: one }]).ok).toBe(true);
    expect(me.cred.groups.gids).toEqual([0, 65534]);
    const { image } = e.checkpoint([task(e, { uid: 1000, gid: 1000, groups: [4, 24, 1000] }), me]);
    const again = task(e, { uid: 1000, gid: 1000, groups: [4, 24, 1000] });
    const out = e.restart(image, again);
    expect(out.steps.filter((s) => !s.allowed)).toEqual([]);
    expect(out.restored[1].cred.groups.gids).toEqual([0, 65534]);
    const worker = task(e, { uid: 1000, gid: 1000, groups: [4, 24, 1000] });
    const plan = restorePlan(image.tasks[1], worker, 'modern');
    expect(plan.some((o) => o.op === 'setgroups')).toBe(false);
    expect(e.applyAll(worker, plan).ok).toBe(true);
  });

  test('ambient.invariant: ambient outside permitted & inheritable is EINVAL', () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 0, caps: { permitted: bit(CAP.KILL), ambient: bit(CAP.KILL), bounding: FULL } }));
    const e = emu();
    const out = e.restart(b.build(), e.initTask());
    expect(out.tasks[0]).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(out.steps.find((s) => !s.allowed)?.rule).toBe('ambient.invariant');
  });

  test('userns.creator-failed and user.ns-failed: a refused creator fails everything below it', () => {
    const b = new ImageBuilder();
    const m = [{ inside: 0, outside: 0, count: 100 }];
    const ns = b.namespace(b.user(5), { uidMap: m, gidMap: m });
    b.task(b.cred({ uid: 1000, gid: 1000, caps: { bounding: FULL } }));
    b.task(b.cred({ uid: 0, user: b.user(0, ns), caps: { bounding: FULL } }));
    const e = emu();
    const out = e.restart(b.build(), task(e, { uid: 1000, gid: 1000 }));
    const rules = out.steps.filter((s) => !s.allowed).map((s) => s.rule);
    expect(rules.slice(0, 3)).toEqual(['user.may-setuid', 'userns.creator-failed', 'user.ns-failed']);
    expect(out.tasks[0].ok).toBe(true);
    expect(out.tasks[1].ok).toBe(false);
    expect(out.restored).toEqual([]);
  });
});
