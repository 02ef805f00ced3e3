// The op list that puts a cred on a freshly forked child of the restarter on TODAY's kernel
// (the order the real syscalls need, unlike the seed's in-kernel order): namespaces level by
// level, then groups, the securebits the uid change needs, gids, uids, fs ids, bounding drops,
// capabilities, ambient, the final securebits, no_new_privs. Also what the child should read
// back afterwards. Authorization is not decided here (see authorize.ts).
import { SECBIT, fullCapSet, hasCap, type Cred, type CapSet } from '../model';
import type { NativeExpect, NativeRestartOp, ThreadCreds } from '../native/binding';
import { mapDown, mapToRoot, nsChain, type ChainLevel } from './chain';
import { RestartUnsupported } from './errors';

/** The restarter, as the addon reads the caller's thread. */
export type Restarter = ThreadCreds;

export interface RestorePlan {
  ops: NativeRestartOp[];
  /** What the child must read back before execve. */
  expect: NativeExpect;
  levels: ChainLevel[];
}

const OVERFLOW_ID = 65534;
/** Capabilities whose effective bit follows fsuid 0 <-> non-0 (CAP_FS_MASK). */
const FS_MASK: CapSet = (1n << 0n) | (1n << 1n) | (1n << 2n) | (1n << 3n) | (1n << 4n) | (1n << 9n) | (1n << 27n);

/** The tracked state of the child, as it sees itself at its current level. */
interface State {
  uid: number; euid: number; suid: number; fsuid: number;
  gid: number; egid: number; sgid: number; fsgid: number;
  groups: number[];
  inh: CapSet; prm: CapSet; eff: CapSet; bnd: CapSet; amb: CapSet;
  sb: number;
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The kernel's uid-change fixup (cap_emulate_setxuid + euid 0 <-> non-0), for tracking. */
function afterSetresuid(s: State, ruid: number, euid: number, suid: number): void {
  const oldRoot = s.uid === 0 || s.euid === 0 || s.suid === 0;
  const oldEuid = s.euid;
  s.uid = ruid; s.euid = euid; s.suid = suid;
  const oldFs = s.fsuid;
  s.fsuid = euid;
  if (s.sb & SECBIT.NO_SETUID_FIXUP) return;
  if (oldRoot && ruid !== 0 && euid !== 0 && suid !== 0) {
    if (!(s.sb & SECBIT.KEEP_CAPS)) { s.prm = 0n; s.eff = 0n; }
    s.amb = 0n;
  }
  if (oldEuid === 0 && euid !== 0) s.eff = 0n;
  if (oldEuid !== 0 && euid === 0) s.eff = s.prm;
  if (oldFs === 0 && euid !== 0) s.eff &= ~FS_MASK;
  if (oldFs !== 0 && euid === 0) s.eff |= s.prm & FS_MASK;
}

function capset(ops: NativeRestartOp[], s: State, inh: CapSet, prm: CapSet, eff: CapSet): void {
  if (s.inh === inh && s.prm === prm && s.eff === eff) return;
  ops.push({ op: 'capset', inheritable: inh, permitted: prm, effective: eff });
  s.inh = inh; s.prm = prm; s.eff = eff;
  s.amb &= prm & inh;
}

export interface PlanOptions {
  capLastCap: number;
  /** Raise these into ambient in addition to the image's ambient set (carryCaps). */
  extraAmbient?: CapSet;
}

/** Ops that take a child of `restarter` to `target` (its real cred), and the read-back. */
export function restorePlan(target: Cred, noNewPrivs: boolean, restarter: Restarter, opts: PlanOptions): RestorePlan {
  const full = fullCapSet(opts.capLastCap);
  const levels = nsChain(target);
  const ops: NativeRestartOp[] = [];
  const s: State = {
    uid: restarter.uid, euid: restarter.euid, suid: restarter.suid, fsuid: restarter.fsuid,
    gid: restarter.gid, egid: restarter.egid, sgid: restarter.sgid, fsgid: restarter.fsgid,
    groups: [...restarter.groups],
    inh: restarter.caps.inheritable, prm: restarter.caps.permitted, eff: restarter.caps.effective,
    bnd: restarter.caps.bounding, amb: restarter.caps.ambient,
    sb: restarter.securebits,
  };
  const groups = [...target.groups.gids];

  if (levels.length > 0) {
    // Groups cannot change inside a namespace whose setgroups is 'deny': set their outer ids
    // here, where the restarter's own rights apply.
    const outer = groups.map((g) => mapToRoot(levels, g, 'gid'));
    const bad = groups.filter((_, i) => outer[i] === undefined);
    if (bad.length) throw new RestartUnsupported(`groups ${bad.join(', ')} have no id outside the image's namespaces`);
    const sorted = [...new Set(outer as number[])].sort((a, b) => a - b);
    if (!sameList(sorted, s.groups)) {
      capset(ops, s, s.inh, s.prm, s.prm);
      ops.push({ op: 'setgroups', gids: sorted });
      s.groups = sorted;
    }
  }

  for (const level of levels) {
    // The namespace's owner is the euid at unshare time: become its creator first.
    if (s.euid !== level.creatorUid) {
      if (s.prm !== 0n && !(s.sb & SECBIT.KEEP_CAPS) && !(s.sb & SECBIT.KEEP_CAPS_LOCKED)) {
        ops.push({ op: 'set_keepcaps', on: true });
        s.sb |= SECBIT.KEEP_CAPS;
      }
      ops.push({ op: 'setresuid', ruid: -1, euid: level.creatorUid, suid: -1 });
      afterSetresuid(s, s.uid, level.creatorUid, s.suid);
      // The map writer forks from here: give it the effective rights the permitted set allows.
      capset(ops, s, s.inh, s.prm, s.prm);
    }
    const { uidMap, gidMap, setgroups } = level.ns;
    // unshare also needs the egid mapped in the current level (the image does not record the
    // creator's gid): take the first id the new gid_map maps, else the level's 0.
    if (s.egid === OVERFLOW_ID) {
      const g = gidMap?.[0]?.outside ?? 0;
      ops.push({ op: 'setresgid', rgid: -1, egid: g, sgid: -1 });
      s.egid = g;
      s.fsgid = g;
    }
    ops.push({ op: 'unshare_user', setgroups, uidMap, gidMap });
    const down = (m: typeof uidMap, id: number) => mapDown(m, id) ?? OVERFLOW_ID;
    s.uid = down(uidMap, s.uid); s.euid = down(uidMap, s.euid); s.suid = down(uidMap, s.suid); s.fsuid = down(uidMap, s.fsuid);
    s.gid = down(gidMap, s.gid); s.egid = down(gidMap, s.egid); s.sgid = down(gidMap, s.sgid); s.fsgid = down(gidMap, s.fsgid);
    s.groups = groups; // set above, as they read inside
    // A namespace's creator starts with every capability in it and default securebits.
    s.inh = 0n; s.prm = full; s.eff = full; s.bnd = full; s.amb = 0n; s.sb = 0;
  }

  const want = target.caps;
  const wantSb = target.securebits ?? (s.sb & ~SECBIT.KEEP_CAPS);
  const wantBnd = want.bounding & s.bnd & full;
  const wantAmb = (want.ambient | (opts.extraAmbient ?? 0n)) & full;

  // Effective rights for what follows (CAP_SETGID, CAP_SETUID, CAP_SETPCAP).
  capset(ops, s, s.inh, s.prm, s.prm);
  if (levels.length === 0 && !sameList(groups, s.groups)) {
    ops.push({ op: 'setgroups', gids: groups });
    s.groups = groups;
  }
  for (let cap = 0; cap <= opts.capLastCap; cap++) {
    if (hasCap(s.bnd, cap) && !hasCap(wantBnd, cap)) {
      ops.push({ op: 'capbset_drop', cap });
      s.bnd &= ~(1n << BigInt(cap));
    }
  }

  // gids first (with their fs id) while CAP_SETGID is surely effective.
  if (s.gid !== target.gid || s.egid !== target.egid || s.sgid !== target.sgid) {
    ops.push({ op: 'setresgid', rgid: target.gid, egid: target.egid, sgid: target.sgid });
    s.gid = target.gid; s.egid = target.egid; s.sgid = target.sgid; s.fsgid = target.egid;
  }
  if (s.fsgid !== target.fsgid) {
    ops.push({ op: 'setfsgid', fsgid: target.fsgid });
    s.fsgid = target.fsgid;
  }

  // Keep permitted across the uid change when every uid leaves 0 and caps are wanted after it
  // (the image's own, the final securebits, ambient, or an fsuid outside the new uids).
  const leavesRoot =
    (s.uid === 0 || s.euid === 0 || s.suid === 0) && target.uid !== 0 && target.euid !== 0 && target.suid !== 0;
  const fsuidNeedsCap = ![target.uid, target.euid, target.suid].includes(target.fsuid);
  const needAfter = want.permitted !== 0n || wantSb !== s.sb || wantAmb !== 0n || fsuidNeedsCap;
  if (leavesRoot && needAfter && !(s.sb & (SECBIT.KEEP_CAPS | SECBIT.NO_SETUID_FIXUP)) && !(s.sb & SECBIT.KEEP_CAPS_LOCKED)) {
    ops.push({ op: 'set_keepcaps', on: true });
    s.sb |= SECBIT.KEEP_CAPS;
  }
  if (s.uid !== target.uid || s.euid !== target.euid || s.suid !== target.suid) {
    ops.push({ op: 'setresuid', ruid: target.uid, euid: target.euid, suid: target.suid });
    afterSetresuid(s, target.uid, target.euid, target.suid);
  }
  if (s.fsuid !== target.fsuid) {
    if (fsuidNeedsCap) capset(ops, s, s.inh, s.prm, s.prm);
    ops.push({ op: 'setfsuid', fsuid: target.fsuid });
    if (s.fsuid === 0 && target.fsuid !== 0) s.eff &= ~FS_MASK;
    if (s.fsuid !== 0 && target.fsuid === 0) s.eff |= s.prm & FS_MASK;
    s.fsuid = target.fsuid;
  }

  // Ambient needs each cap in permitted and inheritable; the final securebits need CAP_SETPCAP
  // in effective: both come before the final capset.
  if (wantAmb !== 0n || wantSb !== s.sb) capset(ops, s, want.inheritable | s.inh, s.prm, s.prm);
  if ((s.amb & ~wantAmb) !== 0n) {
    ops.push({ op: 'ambient_clear_all' });
    s.amb = 0n;
  }
  for (let cap = 0; cap <= opts.capLastCap; cap++) {
    if (hasCap(wantAmb, cap) && !hasCap(s.amb, cap)) {
      ops.push({ op: 'ambient_raise', cap });
      s.amb |= 1n << BigInt(cap);
    }
  }
  if (wantSb !== s.sb) {
    // Only the keep-caps bit moved (and no lock is involved): PR_SET_KEEPCAPS needs no privilege.
    if ((wantSb ^ s.sb) === SECBIT.KEEP_CAPS) ops.push({ op: 'set_keepcaps', on: (wantSb & SECBIT.KEEP_CAPS) !== 0 });
    else ops.push({ op: 'set_securebits', bits: wantSb });
    s.sb = wantSb;
  }
  // Always: the tracked effective set is a model, the final capset makes it exact.
  ops.push({ op: 'capset', inheritable: want.inheritable, permitted: want.permitted, effective: want.effective });
  s.amb &= want.permitted & want.inheritable;
  if (noNewPrivs && !restarter.noNewPrivs) ops.push({ op: 'set_no_new_privs' });

  const expect: NativeExpect = {
    uid: target.uid, euid: target.euid, suid: target.suid, fsuid: target.fsuid,
    gid: target.gid, egid: target.egid, sgid: target.sgid, fsgid: target.fsgid,
    groups,
    caps: {
      inheritable: want.inheritable,
      permitted: want.permitted,
      effective: want.effective,
      bounding: wantBnd,
      ambient: wantAmb & want.permitted & want.inheritable,
    },
    noNewPrivs: noNewPrivs || restarter.noNewPrivs,
  };
  if (target.securebits !== null) expect.securebits = target.securebits;
  return { ops, expect, levels };
}
