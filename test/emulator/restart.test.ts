// restart(): the seed's restore rules, its bugs under `seed` and fixed under `modern`, the
// cr-tests scenarios, and reference counts back where they were after every restart.
import { CAP, fullCapSet } from '../../lib/model/capabilities';
import { SECBIT } from '../../lib/model/types';
import { decode, ImageBuilder } from '../../lib/format';
import { Emulator, RestartDenied, restorePlan, type EmuTask } from '../../lib/emulator';
import { bit, credShape, makeCred, run, task } from './helpers';

const FULL40 = fullCapSet(40);
const FULL33 = fullCapSet(33);

/** checkpoint -> bytes -> decode -> restart, as the CLI does. */
function roundTrip(emu: Emulator, tasks: EmuTask[], restarter: EmuTask) {
  const { bytes } = emu.checkpoint(tasks);
  return emu.restart(decode(bytes), restarter);
}

describe('cr-tests scenarios (modern)', () => {
  test('a task that dropped to uid/gid 501 with no groups comes back exactly', () => {
    const emu = new Emulator('modern');
    const t = emu.initTask();
    expect(emu.applyAll(t, [
      { op: 'setgroups', gids: [] },
      { op: 'setresgid', rgid: 501, egid: 501, sgid: 501 },
      { op: 'setresuid', ruid: 501, euid: 501, suid: 501 },
    ]).ok).toBe(true);
    expect(t.cred.caps.permitted).toBe(0n);
    const root = emu.initTask();
    const out = roundTrip(emu, [t], root);
    expect(out.ok).toBe(true);
    expect(credShape(out.restored[0].cred)).toEqual(credShape(t.cred));
  });

  const secbitCases: [string, number][] = [
    ['none', 0],
    ['keepcaps', SECBIT.KEEP_CAPS],
    ['noroot with no_setuid_fixup', SECBIT.NOROOT | SECBIT.NO_SETUID_FIXUP],
    ['noroot with no_setuid_fixup, locked', SECBIT.NOROOT | SECBIT.NOROOT_LOCKED | SECBIT.NO_SETUID_FIXUP | SECBIT.NO_SETUID_FIXUP_LOCKED],
  ];
  test.each(secbitCases)('securebits %s: set by the task, then uid 1000 with caps kept as the bits say', (_n, bits) => {
    for (const profile of ['modern', 'seed'] as const) {
      const emu = new Emulator(profile);
      const t = emu.initTask();
      expect(run(emu, t, { op: 'set_securebits', bits }).ok).toBe(true);
      expect(run(emu, t, { op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 }).ok).toBe(true);
      const keeps = bits & (SECBIT.KEEP_CAPS | SECBIT.NO_SETUID_FIXUP);
      expect(t.cred.caps.permitted === 0n).toBe(!keeps);
      const out = roundTrip(emu, [t], emu.initTask());
      expect(out.ok).toBe(true);
      expect(credShape(out.restored[0].cred)).toEqual(credShape(t.cred));
    }
  });

  test('a task in a nested user namespace that set uid 500 inside', () => {
    const emu = new Emulator('modern');
    const t = emu.initTask();
    const m = [{ inside: 0, outside: 100000, count: 65536 }];
    expect(emu.applyAll(t, [
      { op: 'setresgid', rgid: 100000, egid: 100000, sgid: 100000 },
      { op: 'set_securebits', bits: SECBIT.NO_SETUID_FIXUP },
      { op: 'setresuid', ruid: 100000, euid: 100000, suid: 100000 },
      { op: 'unshare_user', uidMap: m, gidMap: m },
      { op: 'setresgid', rgid: 500, egid: 500, sgid: 500 },
      { op: 'setresuid', ruid: 500, euid: 500, suid: 500 },
    ]).ok).toBe(true);
    expect(t.cred.uid).toBe(500);
    const { image } = emu.checkpoint([emu.initTask(), t]);
    expect(image.tasks[1].cred.user.ns.creator?.uid).toBe(100000);
    const out = emu.restart(image, emu.initTask());
    expect(out.ok).toBe(true);
    expect(credShape(out.restored[1].cred)).toEqual(credShape(t.cred));
  });

  test('a chain 30 namespaces deep', () => {
    const emu = new Emulator('modern');
    const t = emu.initTask();
    const m = [{ inside: 0, outside: 0, count: 1000 }];
    for (let i = 0; i < 30; i++) expect(run(emu, t, { op: 'unshare_user', uidMap: m, gidMap: m }).ok).toBe(true);
    run(emu, t, { op: 'setresuid', ruid: 7, euid: 7, suid: 7 });
    const { image } = emu.checkpoint([emu.initTask(), t]);
    let depth = 0;
    for (let ns = image.tasks[1].cred.user.ns; ns.creator; ns = ns.creator.ns) depth++;
    expect(depth).toBe(30);
    const out = emu.restart(image, emu.initTask());
    expect(out.ok).toBe(true);
    expect(credShape(out.restored[1].cred)).toEqual(credShape(t.cred));
    expect(out.steps.filter((s) => s.rule === 'userns.created')).toHaveLength(30);
  });

  test('an unprivileged restart of a privileged image is refused, with readable reasons', () => {
    const emu = new Emulator('modern');
    const priv = emu.initTask();
    const user = task(emu, { uid: 1001, gid: 1001 });
    const before = emu.liveObjects();
    const { image } = emu.checkpoint([priv]);
    const out = emu.restart(image, user);
    expect(out.ok).toBe(false);
    expect(out.tasks[0]).toMatchObject({ ok: false, errno: 'EPERM' });
    const rules = out.steps.filter((s) => !s.allowed).map((s) => s.rule);
    expect(rules).toEqual(expect.arrayContaining(['user.may-setuid', 'setresuid.cap-setuid', 'setresgid.cap-setgid', 'capset.permitted-grow']));
    expect(out.steps.map((s) => s.message)).toContain(
      'setresuid(0,0,0) refused: the caller (uid 1001) lacks CAP_SETUID and 0 is none of its uids 1001/1001/1001');
    expect(emu.liveObjects()).toEqual(before);
    expect(() => emu.restartOrThrow(image, user)).toThrow(RestartDenied);
    try {
      emu.restartOrThrow(image, user);
    } catch (e) {
      expect((e as RestartDenied).code).toBe('ERR_RESTART_DENIED');
      expect((e as Error).message).toMatch(/task 0: setresuid\(0,0,0\) refused: the caller \(uid 1001\) lacks CAP_SETUID/);
      expect((e as Error).message).toMatch(/capabilities refused: the permitted set cannot gain/);
    }
  });

  test('an unprivileged user restores its own rootless container (ids translated by the maps)', () => {
    const b = new ImageBuilder();
    const one = [{ inside: 0, outside: 100000, count: 1 }];
    const ns = b.namespace(b.user(100000), { uidMap: one, gidMap: one, setgroups: 'deny' });
    const full = FULL40;
    b.task(b.cred({ uid: 100000, gid: 100000, caps: { bounding: full } }));
    b.task(b.cred({ uid: 0, gid: 0, user: b.user(0, ns), caps: { permitted: full, effective: full, bounding: full } }));
    const image = b.build();
    const emu = new Emulator('modern');
    const me = task(emu, { uid: 100000, gid: 100000 });
    const out = emu.restart(image, me);
    expect(out.steps.filter((s) => !s.allowed)).toEqual([]);
    expect(credShape(out.restored[1].cred)).toEqual(credShape(image.tasks[1].cred));
    // Somebody else may not write those maps.
    const other = task(emu, { uid: 100001, gid: 100001 });
    const denied = emu.restart(image, other);
    expect(denied.ok).toBe(false);
    expect(denied.steps.filter((s) => !s.allowed).map((s) => s.rule)).toEqual(expect.arrayContaining(['user.may-setuid']));
    // And the plan a real restorer runs agrees.
    const worker = task(emu, { uid: 100000, gid: 100000 });
    expect(emu.applyAll(worker, restorePlan(image.tasks[1], worker, 'modern')).ok).toBe(true);
    expect(credShape(worker.cred)).toEqual(credShape(image.tasks[1].cred));
  });

  test('an unprivileged user restarts its own task', () => {
    const emu = new Emulator('modern');
    const me = task(emu, { uid: 1001, gid: 1001, groups: [10, 20] });
    const out = roundTrip(emu, [me], task(emu, { uid: 1001, gid: 1001, groups: [10, 20] }));
    expect(out.ok).toBe(true);
    expect(credShape(out.restored[0].cred)).toEqual(credShape(me.cred));
  });
});

describe('seed bugs, reproduced under seed and fixed under modern', () => {
  test('seed.bset-loop-skips-last-cap: the last capability is never dropped', () => {
    const b = new ImageBuilder();
    const cred = b.cred({ uid: 0, caps: { permitted: FULL33, effective: FULL33, bounding: FULL33 & ~bit(33) & ~bit(5) } });
    b.task(cred);
    const image = b.build();
    const seed = new Emulator('seed');
    const s = seed.restart(image, seed.initTask());
    expect(s.ok).toBe(true);
    expect(s.restored[0].cred.caps.bounding).toBe(FULL33 & ~bit(5));
    expect(s.steps.some((x) => x.rule === 'seed.bset-loop-skips-last-cap')).toBe(true);
    const modern = new Emulator(new Emulator('modern').profile);
    const m = modern.restart(image, modern.initTask());
    expect(m.restored[0].cred.caps.bounding).toBe(FULL33 & ~bit(33) & ~bit(5));
  });

  test('seed.fsid-quirk: fsuid equal to the restarter\'s but not to its own euid comes back as euid', () => {
    const b = new ImageBuilder();
    // Restarter root has fsuid 0; the task has euid 1000 but fsuid 0.
    b.task(b.cred({ uid: 1000, euid: 1000, suid: 1000, fsuid: 0, gid: 1000, fsgid: 0, securebits: 0 }));
    const image = b.build();
    const seed = new Emulator('seed');
    const s = seed.restart(image, seed.initTask());
    expect(s.ok).toBe(true);
    expect(s.restored[0].cred.fsuid).toBe(1000);
    expect(s.restored[0].cred.fsgid).toBe(1000);
    expect(s.steps.filter((x) => x.rule === 'seed.fsid-quirk')).toHaveLength(2);
    const modern = new Emulator('modern');
    const m = modern.restart(image, modern.initTask());
    expect([m.restored[0].cred.fsuid, m.restored[0].cred.fsgid]).toEqual([0, 0]);
  });

  test('seed.foreign-groups-einval: foreign groups refused with EINVAL (seed), EPERM (modern)', () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, gid: 1000, groups: [1000, 4242] }));
    const image = b.build();
    for (const [profile, errno, rule] of [['seed', 'EINVAL', 'seed.foreign-groups-einval'], ['modern', 'EPERM', 'groups.cap-setgid']] as const) {
      const emu = new Emulator(profile);
      const me = task(emu, { uid: 1000, gid: 1000, groups: [1000] });
      const out = emu.restart(image, me);
      expect(out.ok).toBe(false);
      const refused = out.steps.filter((s) => !s.allowed);
      expect(refused[0]).toMatchObject({ rule, errno });
    }
  });

  test('seed: groups the restarter is in are allowed without CAP_SETGID (in_egroup_p), modern needs them unchanged', () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, gid: 1000, groups: [10] }));
    const image = b.build();
    const seed = new Emulator('seed');
    const s = seed.restart(image, task(seed, { uid: 1000, gid: 1000, groups: [10, 20] }));
    const refused = s.steps.filter((x) => !x.allowed).map((x) => x.rule);
    expect(refused).not.toContain('seed.foreign-groups-einval');
    const modern = new Emulator('modern');
    const m = modern.restart(image, task(modern, { uid: 1000, gid: 1000, groups: [10, 20] }));
    expect(m.steps.filter((x) => !x.allowed).map((x) => x.rule)).toContain('groups.cap-setgid');
  });

  test('seed.securebits-always-need-setpcap: the seed refuses every unprivileged restart at securebits', () => {
    const image = (bounding: bigint) => {
      const b = new ImageBuilder();
      b.task(b.cred({ uid: 1000, gid: 1000, caps: { bounding } }));
      return b.build();
    };
    const seed = new Emulator('seed');
    const s = seed.restart(image(FULL33), task(seed, { uid: 1000, gid: 1000 }));
    expect(s.ok).toBe(false);
    expect(s.steps.filter((x) => !x.allowed).map((x) => x.rule)).toEqual(['seed.securebits-always-need-setpcap']);
    const modern = new Emulator('modern');
    expect(modern.restart(image(FULL40), task(modern, { uid: 1000, gid: 1000 })).ok).toBe(true);
  });

  test('seed.set-user-drops-image-user: uid 500 in a nested namespace comes back in the restarter\'s', () => {
    const emu = new Emulator('seed');
    const t = emu.initTask();
    expect(emu.applyAll(t, [{ op: 'unshare_user' }, { op: 'setresuid', ruid: 500, euid: 500, suid: 500 }]).ok).toBe(true);
    const { image } = emu.checkpoint([emu.initTask(), t]);
    const out = emu.restart(image, emu.initTask());
    expect(out.ok).toBe(true);
    expect(out.restored[1].cred.user.ns).toBe(emu.initNs);
    expect(out.steps.some((s) => s.rule === 'seed.set-user-drops-image-user')).toBe(true);
  });

  test('seed.userns-no-check: the seed creates namespaces for anybody; today, map rules apply', () => {
    const b = new ImageBuilder();
    const ns = b.namespace(b.user(1000));
    b.task(b.cred({ uid: 1000, gid: 1000, user: b.user(1000) }));
    b.task(b.cred({ uid: 0, user: b.user(0, ns) }));
    const image = b.build();
    const seed = new Emulator('seed');
    const s = seed.restart(image, task(seed, { uid: 1000, gid: 1000 }));
    expect(s.steps.find((x) => x.rule === 'seed.userns-no-check')?.allowed).toBe(true);
    // ... the user inside is then refused: it lives in another namespace.
    expect(s.steps.find((x) => x.op === 'restore USER 0')).toMatchObject({ allowed: false, rule: 'user.may-setuid' });
  });
});

describe('restart mechanics', () => {
  test('every change is authorized against the restarter as it was, not the half-built cred', () => {
    // Dropping to uid 1000 would cost CAP_SETGID on a live task; restart still sets gid 0 after.
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, gid: 0, groups: [0] }));
    const emu = new Emulator('modern');
    const out = emu.restart(b.build(), emu.initTask());
    expect(out.ok).toBe(true);
    expect(out.restored[0].cred.gid).toBe(0);
  });

  test('shared objects are restored once; the effective cred goes over the real one', () => {
    const emu = new Emulator('modern');
    const b = new ImageBuilder();
    const real = b.cred({ uid: 1000, gid: 1000, groups: [5] });
    const eff = b.cred({ uid: 1000, euid: 0, gid: 1000, groups: [5] });
    b.task(real, { ecred: eff });
    b.task(real);
    const out = emu.restart(b.build(), emu.initTask());
    expect(out.ok).toBe(true);
    const [a, c] = out.restored;
    expect(a.cred).toBe(c.cred);
    expect(a.ecred).not.toBe(a.cred);
    expect(a.ecred.euid).toBe(0);
    expect(a.cred.groups).toBe(a.ecred.groups);
    expect(out.steps.filter((s) => s.op.startsWith('restore GROUPINFO'))).toHaveLength(1);
    expect(out.steps.some((s) => s.rule === 'creds.override')).toBe(true);
  });

  test('no_new_privs: restored (modern); no-new-privs.sticky refuses clearing it', () => {
    const emu = new Emulator('modern');
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, gid: 1000 }), { noNewPrivs: true });
    b.task(b.cred({ uid: 1000, gid: 1000 }));
    const image = b.build();
    const ok = emu.restart({ ...image, tasks: [image.tasks[0]] }, emu.initTask());
    expect(ok.restored[0].noNewPrivs).toBe(true);
    const nnpRoot = emu.initTask();
    run(emu, nnpRoot, { op: 'set_no_new_privs' });
    const out = emu.restart({ ...image, tasks: [image.tasks[1]] }, nnpRoot);
    expect(out.tasks[0]).toMatchObject({ ok: false, errno: 'EPERM' });
    expect(out.steps.at(-1)?.rule).toBe('no-new-privs.sticky');
  });

  test('reference counts: a denied restart leaves none; a good one only the restored creds\'', () => {
    const emu = new Emulator('modern');
    const t = emu.initTask();
    const m = [{ inside: 0, outside: 0, count: 100 }];
    emu.applyAll(t, [{ op: 'unshare_user', uidMap: m, gidMap: m }, { op: 'setgroups', gids: [1, 2] }, { op: 'setresuid', ruid: 5, euid: 5, suid: 5 }]);
    const { image } = emu.checkpoint([emu.initTask(), t]);
    const user = task(emu, { uid: 1001 });
    const base = emu.liveObjects();
    expect(emu.restart(image, user).ok).toBe(false);
    expect(emu.liveObjects()).toEqual(base);
    const root = emu.initTask();
    const base2 = emu.liveObjects();
    const out = emu.restart(image, root);
    expect(out.ok).toBe(true);
    const after = emu.liveObjects();
    expect(after).not.toEqual(base2);
    for (const r of out.restored) emu.exitTask(r);
    expect(emu.liveObjects()).toEqual(base2);
  });

  test('credLayout 96 and securebits unknown: the restarter\'s bits are kept', () => {
    const b = new ImageBuilder({ credLayout: 96 });
    b.task(b.cred({ uid: 0, securebits: null, caps: { permitted: FULL40, effective: FULL40, bounding: FULL40 } }));
    const emu = new Emulator('modern');
    const out = emu.restart(b.build(), emu.initTask());
    expect(out.ok).toBe(true);
    expect(out.restored[0].cred.securebits).toBe(0);
    expect(out.steps.some((s) => s.rule === 'securebits.unknown-kept')).toBe(true);
  });

  test('capbset.cap-setpcap: dropping bounding bits needs CAP_SETPCAP; missing bits stay absent', () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, gid: 1000, caps: { bounding: FULL40 & ~bit(CAP.SYS_ADMIN) } }));
    const emu = new Emulator('modern');
    const out = emu.restart(b.build(), task(emu, { uid: 1000, gid: 1000 }));
    expect(out.steps.find((s) => !s.allowed)?.rule).toBe('capbset.cap-setpcap');
    const limited = task(emu, { uid: 1000, gid: 1000, bnd: FULL40 & ~bit(CAP.SYS_ADMIN) & ~bit(CAP.NET_RAW) });
    const b2 = new ImageBuilder();
    b2.task(b2.cred({ uid: 1000, gid: 1000, caps: { bounding: FULL40 & ~bit(CAP.SYS_ADMIN) } }));
    const out2 = emu.restart(b2.build(), limited);
    expect(out2.ok).toBe(true);
    expect(out2.restored[0].cred.caps.bounding).toBe(FULL40 & ~bit(CAP.SYS_ADMIN) & ~bit(CAP.NET_RAW));
    expect(out2.steps.some((s) => s.rule === 'capbset.cannot-raise')).toBe(true);
  });

  test('makeCred sanity: helpers build the creds they say', () => {
    const emu = new Emulator('modern');
    expect(makeCred(emu, { uid: 3 }).fsuid).toBe(3);
  });
});
