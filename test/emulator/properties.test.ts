// Properties over generated tasks and restarters (fast-check).
import fc from 'fast-check';
import { fullCapSet } from '../../lib/model/capabilities';
import { SECBIT, type Cred, type IdMapExtent, type TaskCreds, type UserNamespace } from '../../lib/model/types';
import { decode, encode, ImageBuilder, ImageFormatError, type Image } from '../../lib/format';
import { Emulator, RestartDenied, restorePlan, type EmuTask } from '../../lib/emulator';
import { arbImage } from '../format/arbitraries';
import { credShape } from './helpers';

const LAST = 40;
const FULL = fullCapSet(LAST);
const capSet = fc.bigInt({ min: 0n, max: FULL });
const id = fc.integer({ min: 0, max: 65535 });
const runs = { numRuns: 150 };
type Infer<A> = A extends fc.Arbitrary<infer T> ? T : never;

interface CredSpec {
  ids: number[];
  groups: number[];
  inh: bigint;
  prm: bigint;
  eff: bigint;
  bnd: bigint;
  amb: bigint;
  bits: number;
}

/** A cred spec whose capability sets obey the kernel's invariants (E, A within P; A within I). */
const credSpec = (ids: fc.Arbitrary<number>, bits: fc.Arbitrary<number>) =>
  fc.record({
    ids: fc.array(ids, { minLength: 8, maxLength: 8 }),
    groups: fc.uniqueArray(ids, { maxLength: 5 }),
    inh: capSet,
    prm: capSet,
    eff: capSet,
    bnd: capSet,
    amb: capSet,
    bits,
  }).map((s): CredSpec => ({ ...s, eff: s.eff & s.prm, amb: s.amb & s.prm & s.inh }));

function buildCred(b: ImageBuilder, s: CredSpec, ns: UserNamespace): Cred {
  const [uid, euid, suid, fsuid, gid, egid, sgid, fsgid] = s.ids;
  return b.cred({
    uid, euid, suid, fsuid, gid, egid, sgid, fsgid,
    groups: s.groups,
    user: b.user(uid, ns),
    caps: { inheritable: s.inh, permitted: s.prm, effective: s.eff, bounding: s.bnd, ambient: s.amb },
    securebits: s.bits,
  });
}

const anyBits = fc.integer({ min: 0, max: 0xfff });

describe('all-powerful restarter (modern)', () => {
  // Tasks in namespaces up to 3 deep below the image root, every namespace fully mapped, with
  // setgroups allowed or denied.
  const arb = fc.array(
    fc.record({
      depth: fc.integer({ min: 0, max: 3 }),
      base: fc.integer({ min: 0, max: 1_000_000 }),
      creators: fc.array(id, { minLength: 3, maxLength: 3 }),
      setgroups: fc.array(fc.constantFrom('allow' as const, 'deny' as const), { minLength: 3, maxLength: 3 }),
      cred: credSpec(id, anyBits),
      ecred: fc.option(credSpec(id, anyBits), { nil: undefined }),
      nnp: fc.boolean(),
    }),
    { minLength: 1, maxLength: 4 },
  );

  function imageOf(specs: Infer<typeof arb>): Image {
    const b = new ImageBuilder();
    for (const s of specs) {
      let ns = b.rootNs;
      for (let d = 0; d < s.depth; d++) {
        const m: IdMapExtent[] = [{ inside: 0, outside: d === 0 ? s.base : 0, count: 65536 }];
        // "deny" is inherited: once a level denies, the levels below it deny too.
        const deny = s.setgroups.slice(0, d + 1).includes('deny');
        ns = b.namespace(b.user(s.creators[d], ns), { uidMap: m, gidMap: m, setgroups: deny ? 'deny' : 'allow' });
      }
      const cred = buildCred(b, s.cred, ns);
      b.task(cred, { ecred: s.ecred ? buildCred(b, s.ecred, ns) : cred, noNewPrivs: s.nnp });
    }
    return b.build();
  }

  test('restart gives back exactly the checkpointed creds', () => {
    fc.assert(
      fc.property(arb, (specs) => {
        const image = imageOf(specs);
        const emu = new Emulator('modern');
        const out = emu.restart(decode(encode(image)), emu.initTask());
        expect(out.ok).toBe(true);
        out.restored.forEach((t, i) => {
          expect(credShape(t.cred)).toEqual(credShape(image.tasks[i].cred));
          expect(credShape(t.ecred)).toEqual(credShape(image.tasks[i].ecred));
          expect(t.noNewPrivs).toBe(image.tasks[i].noNewPrivs);
        });
      }),
      runs,
    );
  });

  test('applying restorePlan(target) from root yields exactly the target cred', () => {
    fc.assert(
      fc.property(arb, (specs) => {
        const image = imageOf(specs);
        const emu = new Emulator('modern');
        for (const t of image.tasks) {
          const root = emu.initTask();
          const plan = restorePlan(t, { cred: root.cred, noNewPrivs: false }, emu.profile);
          const r = emu.applyAll(root, plan);
          expect(r.steps.filter((s) => !s.allowed)).toEqual([]);
          expect(credShape(root.cred)).toEqual(credShape(t.cred));
          expect(root.noNewPrivs).toBe(t.noNewPrivs);
        }
      }),
      runs,
    );
  });
});

describe('unprivileged restarter', () => {
  // A restarter with non-root ids and no permitted or effective capabilities.
  const restarterArb = fc.record({
    spec: credSpec(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 0xfff })),
    nnp: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
  }).map((r) => ({ ...r, spec: { ...r.spec, prm: 0n, eff: 0n, amb: 0n } }));

  const mostly = fc.integer({ min: 0, max: 4 }).map((x) => x > 0);
  /** Targets near the restarter: each id mostly one of its own of the same kind, caps anything. */
  const targetArb = fc.array(
    fc.record({
      cred: credSpec(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 0xfff })),
      pick: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 8, maxLength: 8 }),
      fsFollows: mostly,
      sameGroups: mostly,
      sameBits: mostly,
      zeroCaps: mostly,
      nnp: fc.boolean(),
    }),
    { minLength: 1, maxLength: 3 },
  );

  const scenario = fc.tuple(restarterArb, targetArb);

  function setup(profile: 'modern' | 'seed', [r, targets]: Infer<typeof scenario>) {
    const emu = new Emulator(profile);
    const [uid, euid, suid, fsuid, gid, egid, sgid, fsgid] = r.spec.ids;
    const bits = profile === 'seed' ? r.spec.bits & 0x3f : r.spec.bits;
    const bnd = profile === 'seed' ? r.spec.bnd & fullCapSet(33) : r.spec.bnd;
    const rc: Cred = {
      uid, euid, suid, fsuid, gid, egid, sgid, fsgid,
      groups: { gids: [...r.spec.groups].sort((a, b) => a - b) },
      user: emu.user(uid),
      caps: { inheritable: r.spec.inh & bnd, permitted: 0n, effective: 0n, bounding: bnd, ambient: 0n },
      securebits: bits,
    };
    const restarter = emu.spawnTask(rc, { noNewPrivs: r.nnp });
    const b = new ImageBuilder();
    for (const t of targets) {
      const s = { ...t.cred };
      // pick 0-7: one of the restarter's ids of that kind (r/e/s ids; fs ids also from its fs id); 8-9: the generated id.
      s.ids = s.ids.map((x, i) => (t.pick[i] < 8 ? r.spec.ids[(i < 4 ? 0 : 4) + (t.pick[i] % (i % 4 === 3 ? 4 : 3))] : x));
      if (t.fsFollows) {
        s.ids[3] = s.ids[1];
        s.ids[7] = s.ids[5];
      }
      if (t.sameGroups) s.groups = [...rc.groups.gids];
      if (t.sameBits) s.bits = bits;
      if (t.zeroCaps) Object.assign(s, { prm: 0n, eff: 0n, amb: 0n, inh: rc.caps.inheritable, bnd: rc.caps.bounding });
      b.task(buildCred(b, s, b.rootNs), { noNewPrivs: t.nnp });
    }
    return { emu, restarter, image: b.build() };
  }

  /*
   * The invariant: after a successful restart by a restarter R without privilege, every restored
   * cred C satisfies
   *   C.uid, C.euid, C.suid, C.fsuid  in {R.uid, R.euid, R.suid, R.fsuid}
   *   C.gid, C.egid, C.sgid, C.fsgid  in {R.gid, R.egid, R.sgid, R.fsgid}
   *   C.groups                        within R.groups + {R.egid}
   *   C.permitted, C.effective, C.ambient  within R.permitted (empty here)
   *   C.inheritable                   within R.inheritable | R.permitted
   *   C.bounding                      within R.bounding
   *   C.securebits                    = R.securebits (changing them needs CAP_SETPCAP), but for
   *                                   the exec-restriction bits and their locks (6.14+: a task's
   *                                   own business), where R's locks hold
   *   no_new_privs                    set if R's is
   * i.e. nothing R could not have set on itself.
   */
  const EXEC_BITS_AND_LOCKS =
    SECBIT.EXEC_RESTRICT_FILE | SECBIT.EXEC_RESTRICT_FILE_LOCKED | SECBIT.EXEC_DENY_INTERACTIVE | SECBIT.EXEC_DENY_INTERACTIVE_LOCKED;
  const ALL_LOCKS = Object.entries(SECBIT).reduce((m, [name, bit]) => (name.endsWith('_LOCKED') ? m | bit : m), 0);

  test.each(['modern', 'seed'] as const)('never ends with anything it could not have set itself (%s)', (profile) => {
    let successes = 0;
    fc.assert(
      fc.property(scenario, (sc) => {
        const { emu, restarter, image } = setup(profile, sc);
        const R = restarter.cred;
        const uids = [R.uid, R.euid, R.suid, R.fsuid];
        const gids = [R.gid, R.egid, R.sgid, R.fsgid];
        // The whole image, and each task alone (so that successes are common enough to matter).
        const images = [image, ...image.tasks.map((t) => ({ ...image, tasks: [t] }))];
        for (const img of images) {
          const out = emu.restart(img, restarter);
          if (out.ok) successes++;
          // The seed demands CAP_SETPCAP for securebits, so without privilege it never succeeds.
          if (profile === 'seed') expect(out.ok).toBe(false);
          for (const t of out.restored) {
            for (const c of [t.cred, t.ecred]) {
              for (const u of [c.uid, c.euid, c.suid, c.fsuid]) expect(uids).toContain(u);
              for (const g of [c.gid, c.egid, c.sgid, c.fsgid]) expect(gids).toContain(g);
              for (const g of c.groups.gids) expect([...R.groups.gids, R.egid]).toContain(g);
              expect(c.caps.permitted & ~R.caps.permitted).toBe(0n);
              expect(c.caps.effective & ~R.caps.permitted).toBe(0n);
              expect(c.caps.ambient & ~R.caps.permitted).toBe(0n);
              expect(c.caps.inheritable & ~(R.caps.inheritable | R.caps.permitted)).toBe(0n);
              expect(c.caps.bounding & ~R.caps.bounding).toBe(0n);
              const changed = (c.securebits ?? 0) ^ (R.securebits ?? 0);
              expect(changed & ~(profile === 'modern' ? EXEC_BITS_AND_LOCKS : 0)).toBe(0);
              expect(changed & (((R.securebits ?? 0) & ALL_LOCKS) >> 1)).toBe(0);
            }
            if (restarter.noNewPrivs) expect(t.noNewPrivs).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
    if (profile === 'modern') expect(successes).toBeGreaterThan(10);
  });

  test('restorePlan fails exactly when restart() denies (modern, same namespace)', () => {
    let agreedOk = 0;
    let agreedDenied = 0;
    fc.assert(
      fc.property(scenario, (sc) => {
        const { emu, restarter, image } = setup('modern', sc);
        const R = { cred: restarter.cred, noNewPrivs: restarter.noNewPrivs };
        image.tasks.forEach((t: TaskCreds) => {
          const one = { ...image, tasks: [t] };
          const out = emu.restart(one, restarter);
          const worker: EmuTask = emu.spawnTask(R.cred, { noNewPrivs: R.noNewPrivs });
          const res = emu.applyAll(worker, restorePlan(t, R, emu.profile));
          const planOk = res.ok && worker.noNewPrivs === t.noNewPrivs &&
            (!out.ok || JSON.stringify(credShape(worker.cred), big) === JSON.stringify(credShape(out.restored[0].cred), big));
          expect({ planOk, steps: res.steps.filter((s) => !s.allowed).map((s) => s.rule) })
            .toEqual({ planOk: out.ok, steps: expect.anything() });
          if (out.ok) agreedOk++;
          else agreedDenied++;
        });
      }),
      { numRuns: 300 },
    );
    // Both outcomes must actually occur, or the property says nothing.
    expect(agreedOk).toBeGreaterThan(10);
    expect(agreedDenied).toBeGreaterThan(10);
  });
});

const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

describe('robustness', () => {
  test('a valid image never throws anything but a denial or the typed format error', () => {
    fc.assert(
      fc.property(arbImage(), fc.constantFrom('modern' as const, 'seed' as const), fc.boolean(), (image, profile, privileged) => {
        const emu = new Emulator(profile);
        let decoded: Image;
        try {
          decoded = decode(encode(image));
        } catch (e) {
          if (e instanceof ImageFormatError || (e as Error).name === 'ImageEncodeError') return;
          throw e;
        }
        const who = privileged ? emu.initTask() : emu.spawnTask({ ...emu.initTask().cred, uid: 1, euid: 1, suid: 1, fsuid: 1, user: emu.user(1), caps: { inheritable: 0n, permitted: 0n, effective: 0n, bounding: 0n, ambient: 0n } });
        const base = emu.liveObjects();
        try {
          const out = emu.restartOrThrow(decoded, who);
          for (const t of out) emu.exitTask(t);
        } catch (e) {
          if (!(e instanceof RestartDenied)) throw e;
        }
        expect(emu.liveObjects()).toEqual(base);
      }),
      { numRuns: 200 },
    );
  });
});
