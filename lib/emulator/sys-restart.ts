// restart(): rebuilds each task's creds as the seed's restore_cred / restore_user /
// restore_userns / restore_groupinfo / restore_task_creds / restore_creds do. Each cred starts as
// a copy of the restarter's cred and every change is authorized against the restarter's cred as
// it was when restart began, never against the half-built one. Objects are restored once (the
// objhash), in the image's order; on any refusal nothing built survives.
import { capName, fullCapSet, hasCap } from '../model/capabilities';
import type { Cred, GroupInfo, TaskCreds, User, UserNamespace } from '../model/types';
import type { Image } from '../format/types';
import { CAP_SETGID, CAP_SETPCAP, CAP_SETUID, SECBIT, bits, capList, subset, withCaps } from './caps';
import { type Kernel, NGROUPS_MAX, capsetRule, securebitsRule } from './kernel';
import type { ObjectTable } from './objects';
import type { PlanRestarter } from './restore-plan';
import { type Step, allow, allowLazy, refuse } from './step';
import { type IdField, type UnmappedIds, credKernelId, groupKeys, idKind, keyKernelId, OVERFLOW_ID, unmappedIds, unmappedKey, withUnmapped } from '../model/unmapped';
import { type Subordinate, helperMapRule, helperWriterRule, nsCapable, nsLevel } from './userns';
import { idDownTo, idUpTo, kernelId, parentNs } from '../model/idmap';

export type TaskOutcome =
  | { ok: true; cred: Cred; ecred: Cred; noNewPrivs: boolean }
  | { ok: false; errno: string; refused: Step[] };

export interface RestartOutcome {
  ok: boolean;
  tasks: TaskOutcome[];
  steps: Step[];
}

type Result<T> = { ok: true; v: T } | { ok: false; errno: string };

/** The task that calls sys_restart. */
export interface SysRestarter extends PlanRestarter {
  /** newuidmap / newgidmap usable by the restarter, with its subordinate ids (see userns.ts). */
  subordinate?: Subordinate;
}

/** What restart() produced before the caller decides to keep it (tasks) or drop it. */
export interface RestartWork {
  outcome: RestartOutcome;
  /** References the objhash holds; the caller drops them at the end, as the seed does. */
  release(): void;
}

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

export function sysRestart(kernel: Kernel, objects: ObjectTable, image: Image, restarter: SysRestarter): RestartWork {
  const p = kernel.profile;
  const R = restarter.cred;
  const steps: Step[] = [];
  const hashNs = new Map<UserNamespace, Result<UserNamespace>>();
  const hashUser = new Map<User, Result<User>>();
  const hashGroups = new Map<GroupInfo, Result<GroupInfo>>();
  const hashCred = new Map<Cred, Result<Cred>>();
  const holds: (() => void)[] = [];
  let taskNo = 0;

  const push = (s: Step): Step => {
    s.task = taskNo;
    steps.push(s);
    return s;
  };
  const no = <T>(s: Step): Result<T> => {
    push(s);
    return { ok: false, errno: s.errno! };
  };

  // The restarter's kernel ids, including those behind ids its namespace leaves unmapped.
  const Rkuids = (['uid', 'euid', 'suid'] as const).map((f) => credKernelId(R, f));
  const Rkgids = (['gid', 'egid', 'sgid'] as const).map((f) => credKernelId(R, f));

  // ---- GROUPINFO (restore_groupinfo) ----
  function restoreGroups(g: GroupInfo): Result<GroupInfo> {
    const known = hashGroups.get(g);
    if (known) return known;
    let r: Result<GroupInfo>;
    const op = () => `restore GROUPINFO [${g.gids.slice(0, 8).join(',')}${g.gids.length > 8 ? ',...' : ''}]`;
    if (g.gids.length > NGROUPS_MAX) r = no(refuse(op(), 'groupinfo.ngroups-max', 'EINVAL', `${op()} refused: more than NGROUPS_MAX groups`));
    else if (g.gids.some((x, i) => i > 0 && g.gids[i - 1] >= x)) {
      r = no(refuse(op(), 'groupinfo.order', 'EINVAL', `${op()} refused: groups are not strictly ascending`));
    } else {
      const obj = objects.groups(g.gids);
      objects.getGroups(obj);
      holds.push(() => objects.putGroups(obj));
      push(allowLazy('groupinfo.restore', () => [op(), `${op()}: ${g.gids.length} groups read`]));
      r = { ok: true, v: obj };
    }
    hashGroups.set(g, r);
    return r;
  }

  // ---- USER_NS (restore_userns) ----
  function restoreNs(ns: UserNamespace, creator: Result<User> | null): Result<UserNamespace> {
    let r: Result<UserNamespace>;
    if (!creator) {
      push(allow('restore USER_NS (creator 0)', 'userns.root', "the image's root namespace is the restarter's own namespace"));
      r = { ok: true, v: R.user.ns };
    } else if (!creator.ok) {
      r = no(refuse('restore USER_NS', 'userns.creator-failed', creator.errno, 'a user namespace was not created: its creator could not be restored'));
    } else {
      const c = creator.v;
      const op = `restore USER_NS (creator uid ${c.uid})`;
      const parent = c.ns;
      if (!p.idMaps) {
        const obj: UserNamespace = Object.freeze({ creator: c });
        r = { ok: true, v: obj };
        push(allow(op, 'seed.userns-no-check', `${op}: new user namespace; the seed asks no permission to create it`));
      } else if (nsLevel(parent) >= p.maxNsLevel) {
        r = no(refuse(op, 'userns.max-depth', 'ENOSPC', `${op} refused: user namespaces nest at most 33 levels below the initial one`));
      } else if (kernelId(parent, c.uid, 'uid') < 0) {
        r = no(refuse(op, 'userns.owner-unmapped', 'EPERM', `${op} refused: the owner uid ${c.uid} has no mapping in the parent namespace`));
      } else {
        let setgroups: 'allow' | 'deny' = parent.setgroups === 'deny' && parentNs(parent) ? 'deny' : 'allow';
        let bad: Step | undefined;
        if (ns.setgroups === 'allow' && setgroups === 'deny') {
          bad = refuse(op, 'setgroups-file.reenable', 'EPERM', `${op}: setgroups "allow" refused: the parent namespace denies setgroups`);
        } else if (ns.setgroups) setgroups = ns.setgroups;
        const target: UserNamespace = { creator: c, setgroups };
        const helped: string[] = [];
        for (const kind of ['uid', 'gid'] as const) {
          const m = kind === 'uid' ? ns.uidMap : ns.gidMap;
          if (bad || !m) continue;
          const why = kernel.mapWriteRule(target, R, m, kind);
          // A map the restarter may not write itself, one level below it: newuidmap / newgidmap.
          const sub = kind === 'uid' ? restarter.subordinate?.uids : restarter.subordinate?.gids;
          if (why && why.rule.endsWith('.unprivileged') && sub && parent === R.user.ns) {
            const helper = kind === 'uid' ? 'newuidmap' : 'newgidmap';
            const pre = helperWriterRule(kernelId(parent, c.uid, 'uid'), Rkuids[0], R.gid, R.egid) ??
              (restarter.noNewPrivs ? 'no_new_privs keeps the set-id helper from its privilege' : null);
            const v = helperMapRule(m, kind, kind === 'uid' ? R.uid : R.gid, sub);
            if (pre) bad = refuse(op, `${kind}_map.helper-writer`, 'EPERM', `${op}: ${helper} cannot write ${kind}_map: ${pre}`);
            else if (!v.ok) bad = refuse(op, `${kind}_map.subordinate`, 'EPERM', `${op}: ${helper} refuses ${kind}_map: ${v.why}`);
            else if (v.setgroupsDeny && ns.setgroups === 'allow')
              bad = refuse(op, 'gid_map.helper-setgroups', 'EPERM', `${op}: newgidmap writes "deny" to setgroups for a map of the caller's own gid alone, and the image's is "allow"`);
            else {
              if (v.setgroupsDeny) setgroups = 'deny';
              helped.push(helper);
            }
            continue;
          }
          if (why) bad = refuse(op, why.rule, why.errno, `${op}: writing ${kind}_map refused: ${why.why}`);
        }
        if (bad) r = no(bad);
        else {
          const obj: UserNamespace = Object.freeze({
            creator: c, setgroups,
            ...(ns.uidMap ? { uidMap: ns.uidMap.map((e) => ({ ...e })) } : {}),
            ...(ns.gidMap ? { gidMap: ns.gidMap.map((e) => ({ ...e })) } : {}),
          });
          r = { ok: true, v: obj };
          push(allow(op, 'userns.created', `${op}: new user namespace at level ${nsLevel(obj)}${ns.uidMap ? ' with its maps' : ''}${helped.length ? ` (written by ${helped.join(' and ')})` : ''}`));
        }
      }
      if (r.ok) {
        const obj = r.v;
        objects.getNs(obj);
        holds.push(() => objects.putNs(obj));
      }
    }
    hashNs.set(ns, r);
    return r;
  }

  // ---- USER (restore_user, may_setuid) ----
  function restoreUserOnly(u: User, ns: Result<UserNamespace>): Result<User> {
    const op = `restore USER ${u.uid}`;
    let r: Result<User>;
    if (!ns.ok) r = no(refuse(op, 'user.ns-failed', ns.errno, `${op} refused: its user namespace could not be restored`));
    else {
      const target = ns.v;
      if (!p.idMaps) {
        const ok = hasCap(R.caps.effective, CAP_SETUID) ||
          (R.user.ns === target && (u.uid === R.uid || u.uid === R.euid || u.uid === R.suid));
        r = ok ? { ok: true, v: objects.user(u.uid, target) }
          : no(refuse(op, 'user.may-setuid', 'EPERM',
            R.user.ns !== target
              ? `${op} refused: the restarter lacks CAP_SETUID and the user lives in another user namespace`
              : `${op} refused: the restarter (uid ${R.uid}) lacks CAP_SETUID and ${u.uid} is none of its uids ${R.uid}/${R.euid}/${R.suid}`));
      } else {
        const k = kernelId(target, u.uid, 'uid');
        if (k < 0) r = no(refuse(op, 'user.unmapped', 'EINVAL', `${op} refused: uid ${u.uid} has no mapping in its namespace`));
        else if (nsCapable(R, target, CAP_SETUID) || Rkuids.includes(k)) r = { ok: true, v: objects.user(u.uid, target) };
        else {
          r = no(refuse(op, 'user.may-setuid', 'EPERM',
            `${op} refused: the restarter (uid ${R.uid}) lacks CAP_SETUID over the user's namespace and ${u.uid} is none of its uids ${R.uid}/${R.euid}/${R.suid}`));
        }
      }
      if (r.ok) {
        const obj = r.v;
        objects.getUser(obj);
        holds.push(() => objects.putUser(obj));
        push(allowLazy('user.restore', () => [op, `${op}: allowed`]));
      }
    }
    hashUser.set(u, r);
    return r;
  }

  /** A user with its namespace chain, outermost first, without recursion (as the seed writes it). */
  function restoreUser(u: User): Result<User> {
    const known = hashUser.get(u);
    if (known) return known;
    const chain: UserNamespace[] = [];
    for (let ns: UserNamespace | null = u.ns; ns && !hashNs.has(ns); ns = ns.creator ? ns.creator.ns : null) {
      chain.push(ns);
      if (ns.creator && hashUser.has(ns.creator)) break;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const ns = chain[i];
      if (hashNs.has(ns)) continue;
      let creator: Result<User> | null = null;
      if (ns.creator) creator = hashUser.get(ns.creator) ?? restoreUserOnly(ns.creator, hashNs.get(ns.creator.ns)!);
      restoreNs(ns, creator);
    }
    return restoreUserOnly(u, hashNs.get(u.ns)!);
  }

  /** The creds that authorize changes to a cred in `target`: the restarter, or (today's kernels)
   * the fresh creds a restorer has after unsharing down to a namespace below its own. */
  function authority(target: UserNamespace): Cred {
    if (!p.idMaps || target === R.user.ns) return R;
    const full = fullCapSet(p.lastCap);
    const n = withCaps(R, { inheritable: 0n, permitted: full, effective: full, bounding: full, ambient: 0n });
    n.securebits = 0;
    return n;
  }

  // ---- CRED (restore_cred) ----
  function restoreCred(c: Cred): Result<Cred> {
    const known = hashCred.get(c);
    if (known) return known;
    const g = restoreGroups(c.groups);
    const u = restoreUser(c.user);
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
    const A = authority(ns);
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
    // groups
    const gids = g.v.gids;
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
    // user
    let user = u.ok ? u.v : objects.user(c.user.uid, ns);
    // setresuid
    const uids = [c.uid, c.euid, c.suid];
    checkIds('uid', uids, (['uid', 'euid', 'suid'] as const).map(fieldKid), [R.uid, R.euid, R.suid], Rkuids, setuidOk, CAP_SETUID);
    if (p.bugs.setUserDropsImageUser && c.uid !== R.uid) {
      const swapped = objects.user(c.uid, R.user.ns);
      if (swapped !== user) {
        push(allow(op(), 'seed.set-user-drops-image-user',
          `setresuid: the real uid changes, so set_user() swaps the image's USER for uid ${c.uid} of the restarter's namespace`));
        user = swapped;
      }
    }
    // setfsuid
    const fsuid = checkFs('uid', c.fsuid, c.euid, uids, fieldKid('fsuid'), (['uid', 'euid', 'suid'] as const).map(fieldKid), [R.uid, R.euid, R.suid, R.fsuid], R.fsuid, setuidOk, CAP_SETUID);
    // setresgid
    const gs = [c.gid, c.egid, c.sgid];
    checkIds('gid', gs, (['gid', 'egid', 'sgid'] as const).map(fieldKid), [R.gid, R.egid, R.sgid], Rkgids, setgidOk, CAP_SETGID);
    const fsgid = checkFs('gid', c.fsgid, c.egid, gs, fieldKid('fsgid'), (['gid', 'egid', 'sgid'] as const).map(fieldKid), [R.gid, R.egid, R.sgid, R.fsgid], R.fsgid, setgidOk, CAP_SETGID);
    // capabilities (restore_capabilities: capset, bounding set, securebits)
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
    let r: Result<Cred>;
    if (first) r = { ok: false, errno: first };
    else {
      const obj: Cred = {
        uid: c.uid, euid: c.euid, suid: c.suid, fsuid,
        gid: c.gid, egid: c.egid, sgid: c.sgid, fsgid,
        groups: g.v, user,
        caps: { inheritable: I, permitted: P, effective: E, bounding: bset, ambient },
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
      push(allowLazy('cred.restore', () => [op(), `${op()}: restored with permitted {${capList(P)}}`]));
      r = { ok: true, v: obj };
    }
    hashCred.set(c, r);
    return r;

    function checkIds(kind: 'uid' | 'gid', want: number[], wantK: number[], have: number[], haveK: number[], priv: boolean, cap: number): void {
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
    function checkFs(kind: 'uid' | 'gid', f: number, e: number, newIds: number[], fK: number, newIdsK: number[], have: number[], oldFs: number,
      priv: boolean, cap: number): number {
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
  }

  // Sized once: an array grown push by push holds its old and new backing store at each growth.
  const tasks: TaskOutcome[] = new Array<TaskOutcome>(image.tasks.length);
  // Tasks restored to the same objects share one (read-only) outcome: a million tasks of one
  // cred cost one outcome, not a million.
  const outcomes = new Map<Cred, Map<Cred, TaskOutcome[]>>();
  const okOutcome = (cred: Cred, ecred: Cred, noNewPrivs: boolean): TaskOutcome => {
    let byE = outcomes.get(cred);
    if (!byE) outcomes.set(cred, (byE = new Map()));
    let pair = byE.get(ecred);
    if (!pair) byE.set(ecred, (pair = []));
    const k = noNewPrivs ? 1 : 0;
    return (pair[k] ??= { ok: true, cred, ecred, noNewPrivs });
  };
  image.tasks.forEach((t: TaskCreds, i) => {
    taskNo = i;
    const before = steps.length;
    const rc = restoreCred(t.cred);
    const ec = t.ecred === t.cred ? rc : restoreCred(t.ecred);
    let nnp = false;
    let nnpErr: string | undefined;
    if (p.noNewPrivs) {
      nnp = t.noNewPrivs || restarter.noNewPrivs;
      if (restarter.noNewPrivs && !t.noNewPrivs) {
        const s = push(refuse('restore no_new_privs', 'no-new-privs.sticky', 'EPERM',
          'the task had no_new_privs clear, but the restarter has it set and it cannot be cleared'));
        nnpErr = s.errno;
      }
    } else if (t.noNewPrivs) {
      push(allow('restore no_new_privs', 'seed.no-nnp', 'no_new_privs not restored: this kernel has none'));
    }
    if (rc.ok && ec.ok && !nnpErr) {
      if (ec.v !== rc.v) push(allow('restore_creds', 'creds.override', 'the effective cred differs from the real one: committed real, then put the effective on top'));
      tasks[i] = okOutcome(rc.v, ec.v, nnp);
    } else {
      // Steps of shared objects restored by an earlier task count as this task's too.
      const mine = steps.slice(before).filter((s) => !s.allowed);
      const errno = !rc.ok ? rc.errno : !ec.ok ? ec.errno : nnpErr!;
      const refused = mine.length ? mine : steps.filter((s) => !s.allowed && s.errno === errno).slice(0, 1);
      tasks[i] = { ok: false, errno, refused };
    }
  });
  let released = false;
  return {
    outcome: { ok: tasks.every((t) => t.ok), tasks, steps },
    release() {
      if (released) return;
      released = true;
      for (let i = holds.length - 1; i >= 0; i--) holds[i]();
    },
  };
}

