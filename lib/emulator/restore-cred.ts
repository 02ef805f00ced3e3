// restore_cred: one CRED of the image, its group list and user restored first, then each of its
// parts checked against the restarter as it was (groups, setresuid / setfsuid, setresgid /
// setfsgid, capabilities, bounding set, securebits, ambient). Every refusal is listed, not only
// the first; the cred is built only when none refused.
import { capName, fullCapSet, hasCap } from '../model/capabilities';
import { idDownTo, idUpTo, kernelId, parentNs } from '../model/idmap';
import type { Cred, UserNamespace } from '../model/types';
import { type IdField, type UnmappedIds, groupKeys, idKind, keyKernelId, OVERFLOW_ID, unmappedIds, unmappedKey, withUnmapped } from '../model/unmapped';
import { CAP_SETGID, CAP_SETPCAP, CAP_SETUID, SECBIT, bits, capList, subset, withCaps } from './caps';
import { capsetRule, securebitsRule } from './kernel';
import { restoreGroups } from './restore-groups';
import type { RestoreContext, Result } from './restore-context';
import { restoreUser } from './restore-userns';
import { type Step, allow, allowLazy, refuse } from './step';
import { nsCapable } from './userns';

/** Group list `gids` of namespace `from` as seen from its descendant `to` (65534 when unmapped). */
export function viewGroups(gids: readonly number[], from: UserNamespace, to: UserNamespace): number[] {
  const v = gids.map((g) => {
    const x = from === to ? g : idDownTo(from, g, to, 'gid');
    return x < 0 ? OVERFLOW_ID : x;
  });
  return [...new Set(v)].sort((a, b) => a - b);
}

function sameGids(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The creds that authorize changes to a cred in `target`: the restarter, or (today's kernels)
 * the fresh creds a restorer has after unsharing down to a namespace below its own. */
export function authority(cx: RestoreContext, target: UserNamespace): Cred {
  const { p, R } = cx;
  if (!p.idMaps || target === R.user.ns) return R;
  const full = fullCapSet(p.lastCap);
  const n = withCaps(R, { inheritable: 0n, permitted: full, effective: full, bounding: full, ambient: 0n });
  n.securebits = 0;
  return n;
}

/** One cred being judged: the refusals it meets (the first one's errno fails it). */
interface CredJudgement {
  cx: RestoreContext;
  /** The cred's user namespace, as restored. */
  ns: UserNamespace;
  op: () => string;
  deny(s: Step): void;
}

export function restoreCred(cx: RestoreContext, c: Cred): Result<Cred> {
  const { p, R, objects, push, holds, hashNs, hashCred, Rkuids, Rkgids } = cx;
  const known = hashCred.get(c);
  if (known) return known;
  const g = restoreGroups(cx, c.groups);
  const u = restoreUser(cx, c.user);
  const op = () => `restore CRED uid ${c.uid}/${c.euid}/${c.suid}/${c.fsuid} gid ${c.gid}/${c.egid}/${c.sgid}/${c.fsgid}`;
  let first: string | undefined;
  const deny = (s: Step): void => {
    push(s);
    if (!first) first = s.errno;
  };
  const nsR = hashNs.get(c.user.ns);
  if (!g.ok || !nsR || !nsR.ok) {
    deny(refuse(op(), 'cred.object-failed', !g.ok ? g.errno : !u.ok ? u.errno : 'EINVAL',
      `${op()} refused: its ${!g.ok ? 'group list' : 'user namespace'} could not be restored`));
    const r: Result<Cred> = { ok: false, errno: first! };
    hashCred.set(c, r);
    return r;
  }
  // A refused USER fails the cred (the seed stops there); the checks below still run, so that
  // every reason is listed, each against the restarter as it was.
  if (!u.ok) first = u.errno;
  const ns = nsR.v;
  const j: CredJudgement = { cx, ns, op, deny };
  // Ids the image records unmapped in the cred's namespace: kernel ids of the image's root,
  // which is the restarter's namespace (lib/model/unmapped.ts), here as the emulator's.
  const CU = unmappedIds(c);
  const rootKid = (imageKid: number, kind: 'uid' | 'gid') => kernelId(R.user.ns, imageKid, kind);
  const fieldKid = (f: IdField): number => (CU?.[f] !== undefined ? rootKid(CU[f]!, idKind(f)) : kernelId(ns, c[f], idKind(f)));
  const imageKeys = groupKeys(c);
  /** An image group key as level `at` sees it; -1 when unmapped there. */
  const groupAt = (k: number, at: UserNamespace) => (k < 0 ? idDownTo(R.user.ns, keyKernelId(k), at, 'gid') : idUpTo(ns, k, at, 'gid'));
  const asKey = (k: number) => (k < 0 ? unmappedKey(rootKid(keyKernelId(k), 'gid')) : k);
  const setuidOk = p.idMaps ? nsCapable(R, ns, CAP_SETUID) : hasCap(R.caps.effective, CAP_SETUID);
  const setgidOk = p.idMaps ? nsCapable(R, ns, CAP_SETGID) : hasCap(R.caps.effective, CAP_SETGID);
  checkGroups(j, g.v.gids, imageKeys, asKey, groupAt, setgidOk);
  // user
  let user = u.ok ? u.v : objects.user(c.user.uid, ns);
  // setresuid
  const uids = [c.uid, c.euid, c.suid];
  checkIds(j, 'uid', uids, (['uid', 'euid', 'suid'] as const).map(fieldKid), [R.uid, R.euid, R.suid], Rkuids, setuidOk, CAP_SETUID);
  if (p.bugs.setUserDropsImageUser && c.uid !== R.uid) {
    const swapped = objects.user(c.uid, R.user.ns);
    if (swapped !== user) {
      push(allow(op(), 'seed.set-user-drops-image-user',
        `setresuid: the real uid changes, so set_user() swaps the image's USER for uid ${c.uid} of the restarter's namespace`));
      user = swapped;
    }
  }
  // setfsuid
  const fsuid = checkFs(j, 'uid', c.fsuid, c.euid, uids, fieldKid('fsuid'), (['uid', 'euid', 'suid'] as const).map(fieldKid), [R.uid, R.euid, R.suid, R.fsuid], R.fsuid, setuidOk, CAP_SETUID);
  // setresgid
  const gs = [c.gid, c.egid, c.sgid];
  checkIds(j, 'gid', gs, (['gid', 'egid', 'sgid'] as const).map(fieldKid), [R.gid, R.egid, R.sgid], Rkgids, setgidOk, CAP_SETGID);
  const fsgid = checkFs(j, 'gid', c.fsgid, c.egid, gs, fieldKid('fsgid'), (['gid', 'egid', 'sgid'] as const).map(fieldKid), [R.gid, R.egid, R.sgid, R.fsgid], R.fsgid, setgidOk, CAP_SETGID);
  const { caps, securebits: sb } = restoreCaps(j, c, authority(cx, ns));
  let r: Result<Cred>;
  if (first) r = { ok: false, errno: first };
  else {
    const obj: Cred = {
      uid: c.uid, euid: c.euid, suid: c.suid, fsuid,
      gid: c.gid, egid: c.egid, sgid: c.sgid, fsgid,
      groups: g.v, user,
      caps,
      securebits: sb,
      ...(c.secRef !== undefined ? { secRef: c.secRef } : {}),
    };
    if (CU) {
      const u: { -readonly [K in keyof UnmappedIds]: UnmappedIds[K] } = {};
      for (const f of Object.keys(CU) as (keyof UnmappedIds)[]) {
        if (f === 'groups') u.groups = imageKeys.map(asKey);
        else u[f] = rootKid(CU[f]!, idKind(f));
      }
      withUnmapped(obj, u);
    }
    objects.getCred(obj);
    holds.push(() => objects.putCred(obj));
    push(allowLazy('cred.restore', () => [op(), `${op()}: restored with permitted {${capList(caps.permitted)}}`]));
    r = { ok: true, v: obj };
  }
  hashCred.set(c, r);
  return r;
}

/** setgroups: the image's groups, unless the task inherits them as they are. */
function checkGroups(j: CredJudgement, gids: readonly number[], imageKeys: readonly number[], asKey: (k: number) => number,
  groupAt: (k: number, at: UserNamespace) => number, setgidOk: boolean): void {
  const { cx: { p, R }, ns, op, deny } = j;
  if (!p.idMaps) {
    if (!setgidOk) {
      const foreign = gids.filter((x) => x !== R.egid && !R.groups.gids.includes(x));
      if (foreign.length) {
        deny(refuse(op(), p.bugs.foreignGroupsEinval ? 'seed.foreign-groups-einval' : 'groups.in-egroup',
          p.bugs.foreignGroupsEinval ? 'EINVAL' : 'EPERM',
          `groups [${foreign.join(',')}] refused: the restarter lacks CAP_SETGID and they are neither its egid ${R.egid} nor among its groups [${R.groups.gids.join(',')}]`));
      }
    }
  } else {
    // Groups a task inherits need no call: R's groups as seen from the target namespace.
    const inherited = viewGroups(R.groups.gids, R.user.ns, ns);
    const inheritedKeys = [...new Set(R.groups.gids.map((x) => {
      const v = idDownTo(R.user.ns, x, ns, 'gid');
      return v >= 0 ? v : unmappedKey(kernelId(R.user.ns, x, 'gid'));
    }))].sort((a, b) => a - b);
    if (!sameGids(inheritedKeys, [...new Set(imageKeys.map(asKey))].sort((a, b) => a - b))) {
      // setgroups runs at the deepest level from R's namespace down to the target's where it is
      // allowed ("deny" is inherited, so that is the level above the first "deny"); a restorer
      // sets the groups there before unsharing further.
      const path: UserNamespace[] = [];
      for (let cur: UserNamespace | null = ns; cur && cur !== R.user.ns; cur = parentNs(cur)) path.unshift(cur);
      path.unshift(R.user.ns);
      let level = path.length - 1;
      const denies = (x: UserNamespace) => parentNs(x) !== null && (x.setgroups === 'deny' || !x.gidMap || x.gidMap.length === 0);
      // ... and above the first level that leaves one of them unmapped.
      while (level >= 0 && (denies(path[level]) || imageKeys.some((k) => groupAt(k, path[level]) < 0))) level--;
      const at = level >= 0 ? path[level] : undefined;
      const up = at ? imageKeys.map((k) => groupAt(k, at)) : [];
      if (!at) {
        deny(refuse(op(), 'groups.setgroups-denied', 'EPERM',
          `groups [${gids.join(',')}] refused: they differ from the inherited [${inherited.join(',')}] and setgroups is "deny" in the restarter's namespace`));
      } else if (up.some((x) => x < 0)) {
        deny(refuse(op(), 'groups.unmapped', 'EINVAL', `groups [${gids.join(',')}] refused: some have no mapping where setgroups is allowed`));
      } else if (!nsCapable(R, at, CAP_SETGID)) {
        deny(refuse(op(), 'groups.cap-setgid', 'EPERM',
          `groups [${gids.join(',')}] refused: they differ from the restarter's [${R.groups.gids.join(',')}] and it lacks CAP_SETGID`));
      }
    }
  }
}

function checkIds(j: CredJudgement, kind: 'uid' | 'gid', want: number[], wantK: number[], have: number[], haveK: number[], priv: boolean, cap: number): void {
  const { cx: { p }, deny } = j;
  const call = `setres${kind}(${want.join(',')})`;
  for (const [i, x] of want.entries()) {
    if (p.idMaps) {
      const k = wantK[i];
      if (k < 0) {
        deny(refuse(call, `setres${kind}.unmapped`, 'EINVAL', `${call} refused: ${kind} ${x} has no mapping in the namespace`));
        return;
      }
      if (!priv && !haveK.includes(k)) {
        deny(refuse(call, `setres${kind}.cap-set${kind}`, 'EPERM',
          `${call} refused: the caller (${kind} ${have[0]}) lacks ${capName(cap)} and ${x} is none of its ${kind}s ${have.join('/')}`));
        return;
      }
    } else if (!priv && !have.includes(x)) {
      deny(refuse(call, `setres${kind}.cap-set${kind}`, 'EPERM',
        `${call} refused: the caller (${kind} ${have[0]}) lacks ${capName(cap)} and ${x} is none of its ${kind}s ${have.join('/')}`));
      return;
    }
  }
}

/** cred_setfsuid/gid as the seed calls it; returns the fs id the cred ends with. */
function checkFs(j: CredJudgement, kind: 'uid' | 'gid', f: number, e: number, newIds: number[], fK: number, newIdsK: number[], have: number[], oldFs: number,
  priv: boolean, cap: number): number {
  const { cx: { p, R, push }, ns, deny } = j;
  const call = `setfs${kind}(${f})`;
  if (!p.idMaps) {
    const allowed = have.includes(f) || priv;
    if (allowed && f !== oldFs) return f;
    if (f === oldFs) {
      if (p.bugs.fsidQuirk) {
        if (e !== f) {
          push(allow(call, 'seed.fsid-quirk',
            `${call}: the helper refuses (fs${kind} is already ${f} in the restarter) and the seed ignores it, so fs${kind} comes back as the e${kind} ${e}`));
        }
        return e;
      }
      return f;
    }
    deny(refuse(call, `setfs${kind}.cap-set${kind}`, 'EPERM',
      `${call} refused: the restarter lacks ${capName(cap)} and ${f} is none of its ${kind}s ${have.join('/')}`));
    return e;
  }
  // Today's restorer calls setfs*id after setres*id, so the id must be one of the new ids;
  // unless the restarter's own r/e/s ids are kept (same namespace): then the restorer
  // skips setres*id (which would reset the fs id to the e id) and the fs id may stay.
  const k = fK;
  const newK = newIdsK;
  const kept = ns === R.user.ns && newIds.every((x, i) => x === have[i]);
  if (k < 0) deny(refuse(call, `setfs${kind}.unmapped`, 'EINVAL', `${call} refused: ${kind} ${f} has no mapping in the namespace`));
  else if (!priv && !newK.includes(k) && !(kept && f === oldFs)) {
    deny(refuse(call, `setfs${kind}.sequential`, 'EPERM',
      `${call} refused: without ${capName(cap)} the fs${kind} can only be one of the new ${kind}s ${newIds.join('/')}`));
  }
  return f;
}

/** restore_capabilities: capset, the bounding set, securebits, ambient; checked against `A`. */
function restoreCaps(j: CredJudgement, c: Cred, A: Cred): { caps: Cred['caps']; securebits: number } {
  const { cx: { p, push }, op, deny } = j;
  const { inheritable: I, permitted: P, effective: E } = c.caps;
  const cr = capsetRule(A, I, P, E);
  if (cr) deny(refuse(op(), cr.rule, 'EPERM', `capabilities refused: ${cr.why}`));
  let bset = A.caps.bounding;
  const last = p.bugs.bsetLoopSkipsLastCap ? p.lastCap - 1 : p.lastCap;
  const toDrop = A.caps.bounding & ~c.caps.bounding & fullCapSet(last);
  if (toDrop !== 0n) {
    if (!hasCap(A.caps.effective, CAP_SETPCAP)) {
      deny(refuse(op(), 'capbset.cap-setpcap', 'EPERM', `bounding set refused: dropping {${capList(toDrop)}} needs CAP_SETPCAP, which the restarter lacks`));
    } else bset &= ~toDrop;
  }
  if (p.bugs.bsetLoopSkipsLastCap && hasCap(A.caps.bounding, p.lastCap) && !hasCap(c.caps.bounding, p.lastCap)) {
    push(allow(op(), 'seed.bset-loop-skips-last-cap',
      `bounding set: ${capName(p.lastCap)} stays although the image dropped it (the seed's loop runs i < CAP_LAST_CAP)`));
  }
  const missing = c.caps.bounding & ~A.caps.bounding & fullCapSet(p.lastCap);
  if (missing !== 0n) push(allow(op(), 'capbset.cannot-raise', `bounding set: {${capList(missing)}} stay absent: the restarter's bounding set lacks them`));
  let sb = c.securebits;
  if (sb === null) {
    sb = bits(A);
    push(allow(op(), 'securebits.unknown-kept', `securebits unknown in the image: the restarter's 0x${sb.toString(16)} kept`));
  } else if (p.bugs.securebitsAlwaysNeedSetpcap || sb !== bits(A)) {
    const sr = securebitsRule(p, A, sb, hasCap(A.caps.effective, CAP_SETPCAP));
    // The same bits as the restarter's: only the seed's unconditional apply_securebits refuses.
    const rule = sr && sb === bits(A) ? 'seed.securebits-always-need-setpcap' : sr?.rule;
    if (sr) deny(refuse(op(), rule!, 'EPERM', `securebits 0x${sb.toString(16)} refused: ${sr.why}`));
  }
  let ambient = 0n;
  if (p.ambient) {
    ambient = c.caps.ambient;
    if (!subset(ambient, P & I)) {
      deny(refuse(op(), 'ambient.invariant', 'EINVAL', `ambient {${capList(ambient & ~(P & I))}} refused: not in both the permitted and inheritable sets`));
    } else if (ambient !== 0n && bits(A) & SECBIT.NO_CAP_AMBIENT_RAISE) {
      deny(refuse(op(), 'ambient.secbit-no-raise', 'EPERM', `ambient {${capList(ambient)}} refused: the restarter has SECBIT_NO_CAP_AMBIENT_RAISE`));
    }
  } else if (c.caps.ambient !== 0n) {
    push(allow(op(), 'seed.no-ambient', `ambient {${capList(c.caps.ambient)}} not restored: this kernel has no ambient capabilities`));
  }
  return { caps: { inheritable: I, permitted: P, effective: E, bounding: bset, ambient }, securebits: sb };
}
