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
import { type IdField, type UnmappedIds, groupKeys, idKey, idKind, keyKernelId, unmappedIds, unmappedKey } from '../model/unmapped';
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
  const plan = new PlanPlayer(resolveProfile(profileArg), target, restarter);
  plan.unshareChain(opts);
  plan.setGroupsThenGids();
  plan.setUids();
  plan.interimCapset();
  plan.setFsuid();
  plan.setAmbient();
  plan.finalCapabilities();
  plan.setNoNewPrivs();
  return plan.played();
}

/**
 * The target's ids as the plan compares and sets them. Ids the target's namespace does not map
 * (lib/model/unmapped.ts) are kernel ids of the image's root, which is the restarter's namespace.
 * They can only be inherited: each is set in the nearest level that maps it, before the unshare
 * that hides it, as the original was built.
 */
class PlanTarget {
  readonly cred: Cred;
  readonly noNewPrivs: boolean;
  /** The namespaces between the restarter's and the target's, outermost first. */
  readonly chain: UserNamespace[] = [];
  /** The image's root namespace. */
  readonly imageRoot: UserNamespace;
  /** The target's groups as sorted comparison keys (an unmapped one keyed by its kernel gid). */
  readonly groups: number[];
  /** The target's fsuid is none of its real, effective and saved uids: setting it may need CAP_SETUID. */
  readonly fsuidNeedsCap: boolean;
  private readonly unmapped: UnmappedIds | undefined;
  /** The target's groups as image keys (an unmapped one keyed by its image-root gid). */
  private readonly imageGroupKeys: readonly number[];
  private readonly restarterNs: UserNamespace;

  constructor(target: Pick<TaskCreds, 'cred' | 'noNewPrivs'>, restarterNs: UserNamespace) {
    const T = target.cred;
    this.cred = T;
    this.noNewPrivs = target.noNewPrivs;
    this.restarterNs = restarterNs;
    for (let ns: UserNamespace | null = T.user.ns; ns && ns.creator; ns = ns.creator.ns) this.chain.unshift(ns);
    this.imageRoot = this.chain.length ? this.chain[0].creator!.ns : T.user.ns;
    this.unmapped = unmappedIds(T);
    this.imageGroupKeys = groupKeys(T);
    this.groups = sortedSet(this.imageGroupKeys.map((k) => (k < 0 ? unmappedKey(this.kidOf(keyKernelId(k), 'gid')) : k)));
    this.fsuidNeedsCap = T.fsuid !== T.uid && T.fsuid !== T.euid && T.fsuid !== T.suid;
  }

  /** Target field f as a comparison key (idKey's). */
  key(f: IdField): number {
    const TU = this.unmapped;
    return TU?.[f] !== undefined ? unmappedKey(this.kidOf(TU[f]!, idKind(f))) : this.cred[f];
  }

  /** Target field f as a set-id call's argument: -1 (unchanged) for an unmapped one. */
  arg(f: IdField): number {
    return this.unmapped?.[f] !== undefined ? -1 : this.cred[f];
  }

  /** Target field f as `at` sees it, when `at` maps it and its child `below` does not; else -1. */
  hiddenBelow(f: IdField, at: UserNamespace, below: UserNamespace): number {
    const k = this.unmapped?.[f];
    if (k === undefined) return -1;
    const here = idDownTo(this.imageRoot, k, at, idKind(f));
    return here >= 0 && idDownTo(this.imageRoot, k, below, idKind(f)) < 0 ? here : -1;
  }

  /** Below `ns` the groups can only be inherited: it denies setgroups, has no gid_map, or leaves one unmapped. */
  groupsInheritedInto(ns: UserNamespace): boolean {
    return ns.setgroups === 'deny' || !ns.gidMap?.length || this.imageGroupKeys.some((k) => this.groupAt(k, ns) < 0);
  }

  /** The target's groups as level `at` of the image's chain sees them; -1 for one unmapped there. */
  groupsAt(at: UserNamespace): number[] {
    return this.imageGroupKeys.map((k) => this.groupAt(k, at));
  }

  /** A target group (its image key) as level `at` of the image's chain sees it; -1 when unmapped there. */
  private groupAt(k: number, at: UserNamespace): number {
    return k < 0 ? idDownTo(this.imageRoot, keyKernelId(k), at, 'gid') : idUpTo(this.cred.user.ns, k, at, 'gid');
  }

  private kidOf(imageKid: number, kind: 'uid' | 'gid'): number {
    return kernelId(this.restarterNs, imageKid, kind);
  }
}

/**
 * Builds the plan while the emulator plays it: each op is judged against the creds of its moment,
 * and the next op is chosen from the creds it left.
 */
class PlanPlayer {
  private readonly sim: Kernel;
  private readonly target: PlanTarget;
  private readonly ops: RestoreOp[] = [];
  private readonly steps: Step[] = [];
  private refused = -1;
  private cur: Cred;
  private nnp: boolean;
  /**
   * Whose effective capabilities later calls may lean on: the restarter's, or (below its
   * namespace) the fresh creds the last unshare gave.
   */
  private authority: Cred;

  constructor(private readonly profile: KernelProfile, target: Pick<TaskCreds, 'cred' | 'noNewPrivs'>, restarter: PlanRestarter) {
    this.sim = new Kernel(profile, new ObjectTable());
    this.cur = restarter.cred;
    this.nnp = restarter.noNewPrivs;
    this.authority = restarter.cred;
    this.target = new PlanTarget(target, restarter.cred.user.ns);
  }

  /**
   * 1. One unshare per namespace level between the restarter's namespace and the target's,
   * outermost first. Each level's setgroups and maps are written by a helper left in the parent
   * level with the creds of that moment (the kernel judges the writes against them).
   */
  unshareChain(opts: PlanOptions): void {
    const { chain, imageRoot } = this.target;
    if (!this.profile.idMaps) {
      for (const ns of chain) this.unshareAsRealUid(ns);
      return;
    }
    const inheritGroupsAt = chain.findIndex((ns) => this.target.groupsInheritedInto(ns));
    chain.forEach((ns, i) => {
      const level = i === 0 ? imageRoot : chain[i - 1];
      if (i === inheritGroupsAt) this.inheritGroups(level);
      this.setHiddenGids(level, ns);
      this.mapEgid(ns);
      this.becomeCreator(level, ns);
      this.unshare(ns, i === 0 ? opts.firstLevelHelpers : undefined);
    });
  }

  /**
   * 2. Groups, then gids (while the restarter's capabilities are intact). Compared as keys: an
   * unmapped id reads 65534 like a mapped 65534. An unmapped target id cannot be set here (it
   * was set before the unshare that hides it); if it still differs, the result says so.
   */
  setGroupsThenGids(): void {
    const want = this.target.groups;
    const arg = (f: IdField) => this.target.arg(f);
    if (!sameList(sortedSet(groupKeys(this.cur)), want) && want.every((k) => k >= 0)) this.emit({ op: 'setgroups', gids: want });
    if (this.needsSet(['gid', 'egid', 'sgid'])) this.emit({ op: 'setresgid', rgid: arg('gid'), egid: arg('egid'), sgid: arg('sgid') });
    if (this.needsSet(['fsgid'])) this.emit({ op: 'setfsgid', fsgid: this.target.cred.fsgid });
  }

  /** 3. Uids, keeping capabilities across the change when a later call needs them. */
  setUids(): void {
    if (!this.needsSet(['uid', 'euid', 'suid'])) return;
    const arg = (f: IdField) => this.target.arg(f);
    const res = (f: IdField) => (arg(f) === -1 ? this.cur[f] : this.target.cred[f]);
    const after = this.capsNeededAfterUids() ? ([res('uid'), res('euid'), res('suid')] as const) : undefined;
    this.setresuid({ op: 'setresuid', ruid: arg('uid'), euid: arg('euid'), suid: arg('suid') }, after);
  }

  /**
   * 4. Interim capset: the target's inheritable set, with the capabilities the next calls need
   * (only those the restarter had in effect, so the plan never exceeds what restart allows).
   */
  interimCapset(): void {
    const inheritable = this.target.cred.caps.inheritable;
    const c = this.cur.caps;
    let extra = 0n;
    if (this.needsSetpcap() && hasCap(this.authority.caps.effective, CAP_SETPCAP)) extra |= capBit(CAP_SETPCAP);
    if (this.target.fsuidNeedsCap && hasCap(this.authority.caps.effective, CAP_SETUID)) extra |= capBit(CAP_SETUID);
    const effective = c.effective | (extra & c.permitted);
    if (inheritable !== c.inheritable || effective !== c.effective) this.emit({ op: 'capset', inheritable, permitted: c.permitted, effective });
  }

  /** The fsuid, once the interim capset has raised the CAP_SETUID it may need. */
  setFsuid(): void {
    if (this.needsSet(['fsuid'])) this.emit({ op: 'setfsuid', fsuid: this.target.cred.fsuid });
  }

  /** 5. Ambient (needs the cap in permitted and inheritable, before any NO_CAP_AMBIENT_RAISE). */
  setAmbient(): void {
    if (!this.profile.ambient) return;
    for (let i = 0; i <= this.profile.lastCap; i++) {
      const wanted = hasCap(this.target.cred.caps.ambient, i);
      const have = hasCap(this.cur.caps.ambient, i);
      if (wanted && !have) this.emit({ op: 'ambient_raise', cap: i });
      else if (!wanted && have) this.emit({ op: 'ambient_lower', cap: i });
    }
  }

  /**
   * 6. Bounding set, then the final securebits (both need CAP_SETPCAP), then the final capset,
   * always (one syscall; the read-back then checks the emulator's effective set, not a guess).
   */
  finalCapabilities(): void {
    const caps = this.target.cred.caps;
    for (let i = 0; i <= this.profile.lastCap; i++) {
      if (hasCap(this.cur.caps.bounding, i) && !hasCap(caps.bounding, i)) this.emit({ op: 'capbset_drop', cap: i });
    }
    const sb = this.wantSecurebits();
    if (sb !== bits(this.cur)) this.emit({ op: 'set_securebits', bits: sb });
    this.emit({ op: 'capset', inheritable: caps.inheritable, permitted: caps.permitted, effective: caps.effective });
  }

  setNoNewPrivs(): void {
    if (this.profile.noNewPrivs && this.target.noNewPrivs && !this.nnp) this.emit({ op: 'set_no_new_privs' });
  }

  played(): PlayedPlan {
    return { ops: this.ops, steps: this.steps, refused: this.refused, cred: this.cur, noNewPrivs: this.nnp };
  }

  /** Plays op on the current creds (a map writer's `writerCaps` raised in effect) and records it. */
  private emit(op: RestoreOp, writerCaps = 0n): void {
    const cur = this.cur;
    // withCaps, not a spread: the copy keeps the kernel ids behind unmapped ids.
    const r = this.sim.apply(writerCaps ? withCaps(cur, { ...cur.caps, effective: cur.caps.effective | writerCaps }) : cur, this.nnp, op);
    if (!r.ok && this.refused < 0) this.refused = this.ops.length;
    this.ops.push(op);
    this.steps.push(opStep(op.op, r.step));
    this.cur = r.cred;
    this.nnp = r.noNewPrivs;
  }

  // Below a namespace that denies setgroups (or has no gid_map), or that leaves one of the
  // groups unmapped, groups can only be inherited: set them here, in this level's ids,
  // before unsharing.
  private inheritGroups(level: UserNamespace): void {
    const here = this.target.groupsAt(level);
    if (here.every((g) => g >= 0) && !sameList(sortedSet(groupKeys(this.cur)), sortedSet(here))) this.emit({ op: 'setgroups', gids: sortedSet(here) });
  }

  /** Target gids this level maps and the next hides: set now (setresgid also sets the fsgid). */
  private setHiddenGids(level: UserNamespace, below: UserNamespace): void {
    const hg = (['gid', 'egid', 'sgid'] as const).map((f) => this.target.hiddenBelow(f, level, below));
    if (hg.some((g) => g >= 0)) this.emit({ op: 'setresgid', rgid: hg[0], egid: hg[1], sgid: hg[2] });
  }

  // unshare needs the egid mapped in this level (the image does not record the creator's
  // gid): take one the new gid_map maps, else one this level maps.
  // An id an earlier unshare left unmapped reads as 65534, which this level may well map,
  // but the kernel refuses unshare to a caller whose euid or egid has no mapping: the
  // emulator's cred keeps the kernel id behind it (idKey < 0).
  private mapEgid(ns: UserNamespace): void {
    const cur = this.cur;
    if (idKey(cur, 'egid') < 0 || kernelId(cur.user.ns, cur.egid, 'gid') < 0) {
      const g = [ns.gidMap?.[0]?.outside, ns.creator!.ns.gidMap?.[0]?.inside].find(
        (x): x is number => x !== undefined && kernelId(cur.user.ns, x, 'gid') >= 0,
      );
      if (g !== undefined) this.emit({ op: 'setresgid', rgid: -1, egid: g, sgid: -1 });
    }
  }

  // The namespace's owner is the euid at unshare time: become its creator first (with the
  // real and saved uids this level maps and the next hides).
  private becomeCreator(level: UserNamespace, ns: UserNamespace): void {
    const owner = ns.creator!.uid;
    const hu = (['uid', 'suid'] as const).map((f) => this.target.hiddenBelow(f, level, ns));
    const cur = this.cur;
    if (idKey(cur, 'euid') < 0 || cur.euid !== owner || hu.some((u) => u >= 0)) {
      this.setresuid({ op: 'setresuid', ruid: hu[0], euid: owner, suid: hu[1] }, [hu[0] >= 0 ? hu[0] : cur.uid, owner, hu[1] >= 0 ? hu[1] : cur.suid]);
      this.giveBackEffective();
    }
  }

  /** The map writer forks from here: give back the effective rights the uid change took. */
  private giveBackEffective(): void {
    const c = this.cur.caps;
    const raise = c.permitted & this.authority.caps.effective & ~c.effective;
    if (raise !== 0n) this.emit({ op: 'capset', inheritable: c.inheritable, permitted: c.permitted, effective: c.effective | raise });
  }

  /** unshare into `ns`, its setgroups and maps written by the restarter's map writer or by set-id `helpers`. */
  private unshare(ns: UserNamespace, helpers: PlanOptions['firstLevelHelpers']): void {
    this.emit({
      op: 'unshare_user',
      ...(ns.setgroups ? { setgroups: ns.setgroups } : {}),
      ...(ns.uidMap ? { uidMap: ns.uidMap } : {}),
      ...(ns.gidMap ? { gidMap: ns.gidMap } : {}),
    }, (helpers?.uid ? capBit(CAP_SETUID) : 0n) | (helpers?.gid ? capBit(CAP_SETGID) : 0n));
    this.authority = this.cur;
  }

  /** 2.6.34: the creator is the real uid's user. */
  private unshareAsRealUid(ns: UserNamespace): void {
    const owner = ns.creator!.uid;
    if (this.cur.uid !== owner) {
      this.keepCapsOverUidChange(owner, this.cur.euid, this.cur.suid);
      this.emit({ op: 'setresuid', ruid: owner, euid: -1, suid: -1 });
    }
    this.emit({ op: 'unshare_user' });
  }

  /** setresuid; with `after` (the uids it leaves), keeping the capabilities over the change for this call only. */
  private setresuid(op: Extract<RestoreOp, { op: 'setresuid' }>, after?: readonly [number, number, number]): void {
    const temp = after !== undefined && this.keepCapsOverUidChange(...after);
    this.emit(op);
    if (temp) this.emit({ op: 'set_keepcaps', on: false });
  }

  /** Before a uid change that would lose them, keep the capabilities (cap_emulate_setxuid). */
  private keepCapsOverUidChange(ruid: number, euid: number, suid: number): boolean {
    const cur = this.cur;
    const oldRoot = cur.uid === 0 || cur.euid === 0 || cur.suid === 0;
    const newRoot = ruid === 0 || euid === 0 || suid === 0;
    const loses = (oldRoot && !newRoot && !(bits(cur) & SECBIT.KEEP_CAPS)) || (cur.euid === 0 && euid !== 0);
    if (!loses || cur.caps.permitted === 0n || bits(cur) & SECBIT.NO_SETUID_FIXUP) return false;
    if (hasCap(cur.caps.effective, CAP_SETPCAP) && !(bits(cur) & SECBIT.NO_SETUID_FIXUP_LOCKED)) {
      this.emit({ op: 'set_securebits', bits: bits(cur) | SECBIT.NO_SETUID_FIXUP });
      return false;
    }
    if (!(bits(cur) & SECBIT.KEEP_CAPS) && !(bits(cur) & SECBIT.KEEP_CAPS_LOCKED) && oldRoot && !newRoot) {
      this.emit({ op: 'set_keepcaps', on: true });
      return true;
    }
    return false;
  }

  /** Whether a set-id call over `fields` has work: one differs from the target, and one can be set. */
  private needsSet(fields: readonly IdField[]): boolean {
    return fields.some((f) => idKey(this.cur, f) !== this.target.key(f)) && fields.some((f) => this.target.arg(f) !== -1);
  }

  /** Whether a call after the uid change needs capabilities. */
  private capsNeededAfterUids(): boolean {
    const caps = this.target.cred.caps;
    return caps.permitted !== 0n || (caps.inheritable & ~this.cur.caps.inheritable) !== 0n || this.target.fsuidNeedsCap || this.needsSetpcap();
  }

  /** Whether the bounding set or the securebits are still to change (both need CAP_SETPCAP). */
  private needsSetpcap(): boolean {
    return this.boundingDrops() !== 0n || this.wantSecurebits() !== bits(this.cur);
  }

  private boundingDrops(): bigint {
    return this.cur.caps.bounding & ~this.target.cred.caps.bounding & fullCapSet(this.profile.lastCap);
  }

  /** An image without securebits keeps those of whoever restores it (as restart() does). */
  private wantSecurebits(): number {
    return this.target.cred.securebits ?? bits(this.authority);
  }
}
