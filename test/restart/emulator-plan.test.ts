// The one restore plan (lib/emulator/restore-plan.ts) on the real kernel: the ops restart() gives its
// child are the ops the emulator played, and the child, running them, reads back exactly the
// emulator's prediction, which is the image's cred. Flat images and nested user-namespace chains.
import { CAP, SECBIT, capBit, fullCapSet, type Cred } from '../../lib/model';
import { ImageBuilder, type Image } from '../../lib/format';
import { native, type NativeExpect, type NativeRestartOp, type ThreadCreds } from '../../lib/native/binding';
import { restart, childPlan } from '../../lib/restart';

const me = native().readThreadCreds();
const lastCap = native().probe().capLastCap;
const isRoot = process.getuid?.() === 0 && (me.caps.effective & capBit(CAP.SETPCAP)) !== 0n;
// Running the plans needs root (CAP_SETUID/SETGID/SETPCAP): skipped otherwise, never under CI.
if (!isRoot && process.env.CI) throw new Error('CI runs as root: these tests must not skip');
const rootTest = isRoot ? test : test.skip;

const FULL = fullCapSet(lastCap);
const range = (inside: number, outside: number, count: number) => [{ inside, outside, count }];

function images(): [string, Image][] {
  const out: [string, Image][] = [];
  const add = (name: string, f: (b: ImageBuilder) => void) => {
    const b = new ImageBuilder();
    f(b);
    out.push([name, b.build()]);
  };
  const bnd = me.caps.bounding;
  add('typical user', (b) => b.task(b.cred({ uid: 1000, gid: 1000, groups: [4, 27], caps: { bounding: bnd } })));
  add('split ids', (b) => b.task(b.cred({ uid: 1000, euid: 1001, suid: 1002, fsuid: 1003, gid: 50, egid: 51, sgid: 52, fsgid: 53, caps: { bounding: bnd } })));
  const nb = capBit(CAP.NET_BIND_SERVICE);
  add('non-root with caps and ambient', (b) => b.task(b.cred({ uid: 1000, caps: { inheritable: nb, permitted: nb, effective: nb, ambient: nb, bounding: bnd } })));
  add('securebits, bounding, nnp', (b) =>
    b.task(b.cred({ uid: 0, securebits: SECBIT.NOROOT | SECBIT.NOROOT_LOCKED, caps: { permitted: capBit(CAP.CHOWN), effective: capBit(CAP.CHOWN), bounding: bnd & ~capBit(CAP.SYS_ADMIN) } }), { noNewPrivs: true }),
  );
  add('user namespace, one level, creator 1000', (b) => {
    const ns = b.namespace(b.user(1000), { uidMap: range(0, 100000, 65536), gidMap: range(0, 100000, 65536), setgroups: 'allow' });
    b.task(b.cred({ uid: 0, gid: 0, groups: [5], user: b.user(0, ns), caps: { permitted: FULL, effective: FULL, bounding: FULL } }));
  });
  add('user namespace, two levels', (b) => {
    const ns = b.namespace(b.user(0), { uidMap: range(0, 100000, 65536), gidMap: range(0, 100000, 65536), setgroups: 'allow' });
    const inner = b.namespace(b.user(0, ns), { uidMap: range(0, 1000, 1000), gidMap: range(0, 1000, 1000), setgroups: 'allow' });
    b.task(b.cred({ uid: 7, gid: 8, groups: [9], user: b.user(7, inner), caps: { bounding: FULL } }));
  });
  add('user namespace, three levels, the innermost denies setgroups', (b) => {
    const l1 = b.namespace(b.user(0), { uidMap: range(0, 200000, 65536), gidMap: range(0, 200000, 65536), setgroups: 'allow' });
    const l2 = b.namespace(b.user(0, l1), { uidMap: range(0, 1000, 1000), gidMap: range(0, 1000, 1000), setgroups: 'allow' });
    const l3 = b.namespace(b.user(5, l2), { uidMap: range(0, 0, 100), gidMap: range(0, 0, 100), setgroups: 'deny' });
    b.task(b.cred({ uid: 7, euid: 8, suid: 9, fsuid: 8, gid: 10, groups: [11, 12], user: b.user(7, l3), caps: { inheritable: capBit(CAP.KILL), bounding: FULL & ~capBit(CAP.SYS_MODULE) } }));
  });
  add('user namespace, 32 levels, each mapped by ranges from the one above', (b) => {
    let count = 65536;
    let ns = b.namespace(b.user(0), { uidMap: range(0, 100000, count), gidMap: range(0, 100000, count), setgroups: 'allow' });
    for (let level = 2; level <= 32; level++) {
      count -= 1;
      ns = b.namespace(b.user(0, ns), { uidMap: range(0, 1, count), gidMap: range(0, 1, count), setgroups: 'allow' });
    }
    b.task(b.cred({ uid: 5, gid: 6, groups: [7], user: b.user(5, ns), caps: { bounding: FULL } }));
  });
  return out;
}

/** The emulator's prediction as the image's cred (the same fields the child reads back). */
function imageExpect(c: Cred, nnp: boolean): NativeExpect {
  return {
    uid: c.uid, euid: c.euid, suid: c.suid, fsuid: c.fsuid, gid: c.gid, egid: c.egid, sgid: c.sgid, fsgid: c.fsgid,
    groups: c.groups.gids, caps: { ...c.caps }, securebits: c.securebits ?? undefined, noNewPrivs: nnp,
  };
}

function onKernel(ops: readonly NativeRestartOp[], expect: NativeExpect): string {
  try {
    native().spawn({ files: ['/bin/true'], argv: ['true'], envp: [], stdio: ['ignore', 'ignore', 'ignore'], ops, expect, onExit: () => undefined });
    return 'ok';
  } catch (e) {
    const f = e as { code: string; phase: string; step: number; field?: string };
    return f.phase === 'op' ? `${ops[f.step].op} ${f.code}${f.field ? ` (${f.field})` : ''}` : `${f.phase} ${f.field ?? ''} ${f.code}`;
  }
}

describe('the restore plan on the real kernel', () => {
  rootTest.each(images())('%s: the emulator allows every op and predicts the image cred; the kernel agrees', (name, image) => {
    const t = image.tasks[0];
    const p = childPlan(t.cred, t.noNewPrivs, me, { capLastCap: lastCap });
    expect(p.played.steps.filter((s) => !s.allowed)).toEqual([]);
    expect(p.played.refused).toBe(-1);
    expect(p.expect).toEqual(imageExpect(t.cred, t.noNewPrivs));
    expect(onKernel(p.ops, p.expect)).toBe('ok');
  });

  rootTest.each(images())('%s: restart() gives its child exactly the ops the emulator played', (name, image) => {
    const t = image.tasks[0];
    const report = restart(image, '/bin/true', [], { dryRun: true });
    const p = childPlan(t.cred, t.noNewPrivs, me, { capLastCap: lastCap });
    expect(report.ops).toEqual(p.ops);
    expect(report.ops).toEqual(p.played.ops);
    expect(imageExpect(report.restored, report.restoredNoNewPrivs)).toEqual(p.expect);
  });

  // A restarter without CAP_SETPCAP in effect cannot keep its effective set over the uid change
  // to a namespace's creator with NO_SETUID_FIXUP: the plan raises it again (capset) before the
  // unshare, so the map writer it forks holds CAP_SETUID / CAP_SETGID.
  rootTest('a restarter without CAP_SETPCAP in effect: the map writer gets its rights back', () => {
    const [, image] = images().find(([n]) => n === 'user namespace, one level, creator 1000')!;
    const t = image.tasks[0];
    const eff = me.caps.effective & ~capBit(CAP.SETPCAP);
    const weaker: ThreadCreds = { ...me, caps: { ...me.caps, effective: eff } };
    const p = childPlan(t.cred, t.noNewPrivs, weaker, { capLastCap: lastCap });
    expect(p.played.refused).toBe(-1);
    const owner = p.ops.findIndex((o) => o.op === 'setresuid');
    expect(p.ops.slice(owner, owner + 3).map((o) => o.op)).toEqual(['setresuid', 'capset', 'unshare_user']);
    const become: NativeRestartOp = { op: 'capset', inheritable: me.caps.inheritable, permitted: me.caps.permitted, effective: eff };
    expect(onKernel([become, ...p.ops], p.expect)).toBe('ok');
  });
});
