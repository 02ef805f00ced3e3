// The emulator's restorePlan (lib/emulator) run on the real kernel: for each image, its ops in
// the addon's child must reach the image's cred, as the op list restart() uses does
// (lib/restart/plan.ts). Where they differ, this says which op the kernel refused.
import { CAP, SECBIT, capBit, fullCapSet, type Cred } from '../../lib/model';
import { ImageBuilder, type Image } from '../../lib/format';
import { kernelProfile, restorePlan as emulatorPlan } from '../../lib/emulator';
import { native, type NativeExpect, type NativeRestartOp } from '../../lib/native/binding';
import { restorePlan as livePlan } from '../../lib/restart';

const me = native().readThreadCreds();
const lastCap = native().probe().capLastCap;
const isRoot = process.getuid?.() === 0 && (me.caps.effective & capBit(CAP.SETPCAP)) !== 0n;
// Running the plans needs root (CAP_SETUID/SETGID/SETPCAP): skipped otherwise, never under CI.
if (!isRoot && process.env.CI) throw new Error('CI runs as root: these tests must not skip');

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
  add('user namespace, two levels', (b) => {
    const ns = b.namespace(b.user(0), { uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: 100000, count: 65536 }], setgroups: 'allow' });
    const inner = b.namespace(b.user(0, ns), { uidMap: [{ inside: 0, outside: 1000, count: 1000 }], gidMap: [{ inside: 0, outside: 1000, count: 1000 }], setgroups: 'allow' });
    b.task(b.cred({ uid: 7, gid: 8, groups: [9], user: b.user(7, inner), caps: { bounding: fullCapSet(lastCap) } }));
  });
  return out;
}

function expectOf(c: Cred, nnp: boolean, bounding: bigint): NativeExpect {
  return {
    uid: c.uid, euid: c.euid, suid: c.suid, fsuid: c.fsuid, gid: c.gid, egid: c.egid, sgid: c.sgid, fsgid: c.fsgid,
    groups: c.groups.gids, caps: { ...c.caps, bounding }, securebits: c.securebits ?? undefined, noNewPrivs: nnp,
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

describe('restore plans on the real kernel', () => {
  const restarterCred = (): Cred => {
    const b = new ImageBuilder();
    return b.cred({ uid: me.uid, euid: me.euid, suid: me.suid, fsuid: me.fsuid, gid: me.gid, egid: me.egid, sgid: me.sgid, fsgid: me.fsgid, groups: me.groups, securebits: me.securebits, caps: { ...me.caps } });
  };

  (isRoot ? test : test.skip).each(images())('%s: the live plan reaches the image cred', (name, image) => {
    const t = image.tasks[0];
    const p = livePlan(t.cred, t.noNewPrivs, me, { capLastCap: lastCap });
    expect(onKernel(p.ops, p.expect)).toBe('ok');
  });

  const emulatorOnKernel = (image: Image): string => {
    const t = image.tasks[0];
    const ops = emulatorPlan(t, { cred: restarterCred(), noNewPrivs: me.noNewPrivs }, kernelProfile('modern', { lastCap }));
    const live = livePlan(t.cred, t.noNewPrivs, me, { capLastCap: lastCap });
    return onKernel(ops.filter((o) => o.op !== 'execve') as NativeRestartOp[], expectOf(t.cred, t.noNewPrivs, live.expect.caps!.bounding!));
  };
  const flat = images().filter(([n]) => !n.startsWith('user namespace'));
  const nested = images().filter(([n]) => n.startsWith('user namespace'));

  (isRoot ? test : test.skip).each(flat)("%s: the emulator's plan reaches the image cred on the kernel", (name, image) => {
    expect(emulatorOnKernel(image)).toBe('ok');
  });

  // Known gap of lib/emulator/plan.ts (reported): before the second unshare the child's egid is
  // unmapped in the first level, and unshare(CLONE_NEWUSER) then fails EPERM. When fixed, this
  // fails and should become an ordinary test.
  (isRoot ? test.failing : test.skip).each(nested)("%s: the emulator's plan reaches the image cred on the kernel", (name, image) => {
    expect(emulatorOnKernel(image)).toBe('ok');
  });
});
