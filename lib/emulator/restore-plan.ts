// The restore plan: the ordered CredOps that turn a restarter into a target task's real cred on a
// real kernel, one syscall at a time. There is one builder, this one: restart() runs these very
// ops in its forked child (lib/restart/child-plan.ts only adapts the caller's creds and the read-back),
// and the emulator plays each op as it is emitted, so its verdict on each op and the creds after
// the last one are its judgement and prediction of exactly what the child executes.
//
// Each call is checked against the creds of that moment (unlike restart()'s single authorization
// against the restarter "as it was"), so the plan keeps the capabilities later calls need
// (NO_SETUID_FIXUP or KEEP_CAPS over a uid change, an interim capset) and drops them last; it
// never leans on a capability the restarter (or, below its namespace, the fresh creator) did not
// have in effect.
import { capBit, fullCapSet, hasCap } from '../model/capabilities';
import type { CredOp } from '../model/ops';
import type { Cred, TaskCreds, UserNamespace } from '../model/types';
import { CAP_SETGID, CAP_SETPCAP, CAP_SETUID, SECBIT, bits, withCaps } from './caps';
import { Kernel } from './kernel';
import { ObjectTable } from './objects';
import { type KernelProfile, type ProfileName, resolveProfile } from './profile';
import { type Step, allowLazy } from './step';
import { type IdField, groupKeys, idKey, idKind, keyKernelId, unmappedIds, unmappedKey } from '../model/unmapped';
import { idDownTo, idUpTo, kernelId } from '../model/idmap';

export interface PlanRestarter {
  cred: Cred;
  noNewPrivs: boolean;
}

/** What a plan holds: every CredOp but execve (the addon's child runs exactly these). */
export type RestoreOp = Exclude<CredOp, { op: 'execve' }>;

export interface PlanOptions {
  /**
   * Maps of the first level that a set-id helper (newuidmap / newgidmap), not the restarter's
   * own map writer, writes: the emulator plays them as written by a writer holding CAP_SETUID /
   * CAP_SETGID in the restarter's namespace (whether the helper may is decided by its caller).
   */
  firstLevelHelpers?: { uid?: boolean; gid?: boolean };
}

/** A plan with the emulator's play of it. */
export interface PlayedPlan {
  ops: RestoreOp[];
  /**
   * The emulator's decision on each op: steps[i] is ops[i]'s. Its `op` is the CredOp's name
   * ('setresuid', 'capbset_drop', ...); its message starts with the call ('setresuid(0,0,0)').
   */
  steps: Step[];
  /** Index of the first op the emulator refuses (the child would stop there); -1 when none. */
  refused: number;
  /** The emulator's prediction: the creds after the last op (ids as the task sees them). */
  cred: Cred;
  noNewPrivs: boolean;
}

const sortedSet = (xs: readonly number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);
const sameList = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The kernel's step for a plan op, its `op` the CredOp's name and the call kept in its message. */
function opStep(name: string, s: Step): Step {
  const words = (): string => (s.message.startsWith(s.op) ? s.message : `${s.op}: ${s.message}`);
  if (s.allowed) return allowLazy(s.rule, () => [name, words()]);
  return { ...s, op: name, message: words() };
}

/** The ordered ops that take `restarter` to `target.cred` (the real cred: an override cannot be expressed as syscalls). */
export function restorePlan(
  target: Pick<TaskCreds, 'cred' | 'noNewPrivs'>,
  restarter: PlanRestarter,
  profile: KernelProfile | ProfileName,
  opts: PlanOptions = {},
): CredOp[] {
  return playRestorePlan(target, restarter, profile, opts).ops;
}

/** restorePlan, with the emulator's verdict on each op and its prediction of the result. */
export function playRestorePlan(
  target: Pick<TaskCreds, 'cred' | 'noNewPrivs'>,
  restarter: PlanRestarter,
  profileArg: KernelProfile | ProfileName,
  opts: PlanOptions = {},
): PlayedPlan {
  const profile = resolveProfile(profileArg);
  const sim = new Kernel(profile, new ObjectTable());
  const ops: RestoreOp[] = [];
  const steps: Step[] = [];
  let refused = -1;
  const R = restarter.cred;
  let cur = R;
  let nnp = restarter.noNewPrivs;
  const emit = (op: RestoreOp, writerCaps = 0n): void => {
    // withCaps, not a spread: the copy keeps the kernel ids behind unmapped ids.
    const r = sim.apply(writerCaps ? withCaps(cur, { ...cur.caps, effective: cur.caps.effective | writerCaps }) : cur, nnp, op);
    if (!r.ok && refused < 0) refused = ops.length;
    ops.push(op);
    steps.push(opStep(op.op, r.step));
    cur = r.cred;
    nnp = r.noNewPrivs;
  };
  const T = target.cred;

  /** Before a uid change that would lose them, keep the capabilities (cap_emulate_setxuid). */
  const keepCapsOverUidChange = (ruid: number, euid: number, suid: number): boolean => {
    const oldRoot = cur.uid === 0 || cur.euid === 0 || cur.suid === 0;
    const newRoot = ruid === 0 || euid === 0 || suid === 0;
    const loses = (oldRoot && !newRoot && !(bits(cur) & SECBIT.KEEP_CAPS)) || (cur.euid === 0 && euid !== 0);
    if (!loses || cur.caps.permitted === 0n || bits(cur) & SECBIT.NO_SETUID_FIXUP) return false;
    if (hasCap(cur.caps.effective, CAP_SETPCAP) && !(bits(cur) & SECBIT.NO_SETUID_FIXUP_LOCKED)) {
      emit({ op: 'set_securebits', bits: bits(cur) | SECBIT.NO_SETUID_FIXUP });
      return false;
    }
    if (!(bits(cur) & SECBIT.KEEP_CAPS) && !(bits(cur) & SECBIT.KEEP_CAPS_LOCKED) && oldRoot && !newRoot) {
      emit({ op: 'set_keepcaps', on: true });
      return true;
    }
    return false;
  };

  // Whose effective capabilities later calls may lean on: the restarter's, or (below its
  // namespace) the fresh creds the last unshare gave.
  let A = R;

  // 1. One unshare per namespace level between the restarter's namespace and the target's,
  // outermost first. Each level's setgroups and maps are written by a helper left in the parent
  // level with the creds of that moment (the kernel judges the writes against them).
  const chain: UserNamespace[] = [];
  for (let ns: UserNamespace | null = T.user.ns; ns && ns.creator; ns = ns.creator.ns) chain.unshift(ns);
  const imageRoot = chain.length ? chain[0].creator!.ns : T.user.ns;
  // Ids the target's namespace does not map (lib/model/unmapped.ts): kernel ids of the image's
  // root, which is the restarter's namespace. They can only be inherited: each is set in the
  // nearest level that maps it, before the unshare that hides it, as the original was built.
  const TU = unmappedIds(T);
  const kidOf = (imageKid: number, kind: 'uid' | 'gid') => kernelId(R.user.ns, imageKid, kind);
  const tKey = (f: IdField): number => (TU?.[f] !== undefined ? unmappedKey(kidOf(TU[f]!, idKind(f))) : T[f]);
  const imageGroupKeys = groupKeys(T);
  const tGroupKeys = imageGroupKeys.map((k) => (k < 0 ? unmappedKey(kidOf(keyKernelId(k), 'gid')) : k));
  /** A target group (its image key) as level `at` of the image's chain sees it; -1 when unmapped there. */
  const groupAt = (k: number, at: UserNamespace): number =>
    k < 0 ? idDownTo(imageRoot, keyKernelId(k), at, 'gid') : idUpTo(T.user.ns, k, at, 'gid');
  /** Target field f as `at` sees it, when `at` maps it and its child `below` does not; else -1. */
  const hiddenBelow = (f: IdField, at: UserNamespace, below: UserNamespace): number => {
    const k = TU?.[f];
    if (k === undefined) return -1;
    const here = idDownTo(imageRoot, k, at, idKind(f));
    return here >= 0 && idDownTo(imageRoot, k, below, idKind(f)) < 0 ? here : -1;
  };
  let groupsSet = false;
  const want = sortedSet(tGroupKeys);
  for (let i = 0; i < chain.length; i++) {
    const ns = chain[i];
    const owner = ns.creator!.uid;
    if (profile.idMaps) {
      // Below a namespace that denies setgroups (or has no gid_map), or that leaves one of the
      // groups unmapped, groups can only be inherited: set them here, in this level's ids,
      // before unsharing.
      const level = i === 0 ? imageRoot : chain[i - 1];
      if (!groupsSet && (ns.setgroups === 'deny' || !ns.gidMap?.length || imageGroupKeys.some((k) => groupAt(k, ns) < 0))) {
        groupsSet = true;
        const here = imageGroupKeys.map((k) => groupAt(k, level));
        if (here.every((g) => g >= 0) && !sameList(sortedSet(groupKeys(cur)), sortedSet(here))) emit({ op: 'setgroups', gids: sortedSet(here) });
      }
      // Target gids this level maps and the next hides: set now (setresgid also sets the fsgid).
      const hg = (['gid', 'egid', 'sgid'] as const).map((f) => hiddenBelow(f, level, ns));
      if (hg.some((g) => g >= 0)) emit({ op: 'setresgid', rgid: hg[0], egid: hg[1], sgid: hg[2] });
      // unshare needs the egid mapped in this level (the image does not record the creator's
      // gid): take one the new gid_map maps, else one this level maps.
      // An id an earlier unshare left unmapped reads as 65534, which this level may well map,
      // but the kernel refuses unshare to a caller whose euid or egid has no mapping: the
      // emulator's cred keeps the kernel id behind it (idKey < 0).
      if (idKey(cur, 'egid') < 0 || kernelId(cur.user.ns, cur.egid, 'gid') < 0) {
        const g = [ns.gidMap?.[0]?.outside, ns.creator!.ns.gidMap?.[0]?.inside].find(
          (x): x is number => x !== undefined && kernelId(cur.user.ns, x, 'gid') >= 0,
        );
        if (g !== undefined) emit({ op: 'setresgid', rgid: -1, egid: g, sgid: -1 });
      }
      // The namespace's owner is the euid at unshare time: become its creator first (with the
      // real and saved uids this level maps and the next hides).
      const hu = (['uid', 'suid'] as const).map((f) => hiddenBelow(f, level, ns));
      if (idKey(cur, 'euid') < 0 || cur.euid !== owner || hu.some((u) => u >= 0)) {
        const temp = keepCapsOverUidChange(hu[0] >= 0 ? hu[0] : cur.uid, owner, hu[1] >= 0 ? hu[1] : cur.suid);
        emit({ op: 'setresuid', ruid: hu[0], euid: owner, suid: hu[1] });
        if (temp) emit({ op: 'set_keepcaps', on: false });
        // The map writer forks from here: give back the effective rights the uid change took.
        const raise = cur.caps.permitted & A.caps.effective & ~cur.caps.effective;
        if (raise !== 0n) {
          const c = cur.caps;
          emit({ op: 'capset', inheritable: c.inheritable, permitted: c.permitted, effective: c.effective | raise });
        }
      }
      const h = i === 0 ? opts.firstLevelHelpers : undefined;
      emit({
        op: 'unshare_user',
        ...(ns.setgroups ? { setgroups: ns.setgroups } : {}),
        ...(ns.uidMap ? { uidMap: ns.uidMap } : {}),
        ...(ns.gidMap ? { gidMap: ns.gidMap } : {}),
      }, (h?.uid ? capBit(CAP_SETUID) : 0n) | (h?.gid ? capBit(CAP_SETGID) : 0n));
      A = cur;
    } else {
      // 2.6.34: the creator is the real uid's user.
      if (cur.uid !== owner) {
        keepCapsOverUidChange(owner, cur.euid, cur.suid);
        emit({ op: 'setresuid', ruid: owner, euid: -1, suid: -1 });
      }
      emit({ op: 'unshare_user' });
    }
  }

  // An image without securebits keeps those of whoever restores it (as restart() does).
  const wantSb = T.securebits ?? bits(A);
  const bndDrops = (c: Cred) => c.caps.bounding & ~T.caps.bounding & fullCapSet(profile.lastCap);
  const fsuidNeedsCap = T.fsuid !== T.uid && T.fsuid !== T.euid && T.fsuid !== T.suid;

  // 2. Groups, then gids (while the restarter's capabilities are intact). Compared as keys: an
  // unmapped id reads 65534 like a mapped 65534. An unmapped target id cannot be set here (it
  // was set before the unshare that hides it); if it still differs, the result says so.
  const differs = (f: IdField) => idKey(cur, f) !== tKey(f);
  const arg = (f: IdField) => (TU?.[f] !== undefined ? -1 : T[f]);
  if (!sameList(sortedSet(groupKeys(cur)), want) && want.every((k) => k >= 0)) emit({ op: 'setgroups', gids: want });
  if ((differs('gid') || differs('egid') || differs('sgid')) && [arg('gid'), arg('egid'), arg('sgid')].some((x) => x !== -1)) {
    emit({ op: 'setresgid', rgid: arg('gid'), egid: arg('egid'), sgid: arg('sgid') });
  }
  if (differs('fsgid') && arg('fsgid') !== -1) emit({ op: 'setfsgid', fsgid: T.fsgid });

  // 3. Uids, keeping capabilities across the change when a later call needs them.
  let tempKeep = false;
  if ((differs('uid') || differs('euid') || differs('suid')) && [arg('uid'), arg('euid'), arg('suid')].some((x) => x !== -1)) {
    const needAfter = T.caps.permitted !== 0n || (T.caps.inheritable & ~cur.caps.inheritable) !== 0n || fsuidNeedsCap ||
      bndDrops(cur) !== 0n || wantSb !== bits(cur);
    const res = (f: IdField) => (arg(f) === -1 ? cur[f] : T[f]);
    if (needAfter) tempKeep = keepCapsOverUidChange(res('uid'), res('euid'), res('suid'));
    emit({ op: 'setresuid', ruid: arg('uid'), euid: arg('euid'), suid: arg('suid') });
  }
  if (tempKeep) emit({ op: 'set_keepcaps', on: false });

  // 4. Interim capset: the target's inheritable set, with the capabilities the next calls need
  // (only those the restarter had in effect, so the plan never exceeds what restart allows).
  const needSetpcap = bndDrops(cur) !== 0n || wantSb !== bits(cur);
  let extra = 0n;
  if (needSetpcap && hasCap(A.caps.effective, CAP_SETPCAP)) extra |= capBit(CAP_SETPCAP);
  if (fsuidNeedsCap && hasCap(A.caps.effective, CAP_SETUID)) extra |= capBit(CAP_SETUID);
  const interimE = cur.caps.effective | (extra & cur.caps.permitted);
  if (T.caps.inheritable !== cur.caps.inheritable || interimE !== cur.caps.effective) {
    emit({ op: 'capset', inheritable: T.caps.inheritable, permitted: cur.caps.permitted, effective: interimE });
  }
  if (differs('fsuid') && arg('fsuid') !== -1) emit({ op: 'setfsuid', fsuid: T.fsuid });

  // 5. Ambient (needs the cap in permitted and inheritable, before any NO_CAP_AMBIENT_RAISE).
  if (profile.ambient) {
    for (let i = 0; i <= profile.lastCap; i++) {
      const wanted = hasCap(T.caps.ambient, i);
      const have = hasCap(cur.caps.ambient, i);
      if (wanted && !have) emit({ op: 'ambient_raise', cap: i });
      else if (!wanted && have) emit({ op: 'ambient_lower', cap: i });
    }
  }

  // 6. Bounding set, then the final securebits (both need CAP_SETPCAP), then the final capset,
  // always (one syscall; the read-back then checks the emulator's effective set, not a guess).
  for (let i = 0; i <= profile.lastCap; i++) {
    if (hasCap(cur.caps.bounding, i) && !hasCap(T.caps.bounding, i)) emit({ op: 'capbset_drop', cap: i });
  }
  if (wantSb !== bits(cur)) emit({ op: 'set_securebits', bits: wantSb });
  emit({ op: 'capset', inheritable: T.caps.inheritable, permitted: T.caps.permitted, effective: T.caps.effective });
  if (profile.noNewPrivs && target.noNewPrivs && !nnp) emit({ op: 'set_no_new_privs' });
  return { ops, steps, refused, cred: cur, noNewPrivs: nnp };
}
