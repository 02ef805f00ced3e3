// The credential syscalls, one function each, with the kernel's checks in the kernel's order.
// Each takes the caller's cred (never modified: creds are copy-on-write, as in the kernel) and
// returns the new cred, or the errno, with the step that explains the decision.
import { CAP, capBit, capName, fullCapSet, hasCap, securebitNames } from '../model/capabilities';
import type { CredOp, IdArg } from '../model/ops';
import type { Cred, IdMapExtent, UserNamespace } from '../model/types';
import {
  CAP_FS_SET,
  CAP_SETFCAP,
  CAP_SETGID,
  CAP_SETPCAP,
  CAP_SETUID,
  CAP_SYS_ADMIN,
  SECBIT,
  bits,
  capList,
  capsOf,
  clone,
  issecure,
  withCaps,
  subset,
} from './caps';
import { ExecDenied, computeExec } from './exec';
import type { ObjectTable } from './objects';
import type { KernelProfile } from './profile';
import { type Step, allow, allowLazy, refuse } from './step';
import { INVALID_ID, kernelId, mapDown, parentNs } from '../model/idmap';
import { type IdField, type UnmappedIds, credKernelId, idKey, moveUnmapped, OVERFLOW_ID, unmappedIds, unmappedKey, withUnmapped } from '../model/unmapped';
import { nsCapable, nsLevel } from './userns';

export interface OpOutcome {
  ok: boolean;
  errno?: string;
  cred: Cred;
  noNewPrivs: boolean;
  step: Step;
}

export const NGROUPS_MAX = 65536;
export const MAX_ID_EXTENTS = 340;

const UID_FIELDS: readonly IdField[] = ['uid', 'euid', 'suid', 'fsuid'];
const GID_FIELDS: readonly IdField[] = ['gid', 'egid', 'sgid', 'fsgid'];

function keep(x: IdArg): boolean {
  return x === -1 || x === INVALID_ID;
}

export class Kernel {
  constructor(
    readonly profile: KernelProfile,
    readonly objects: ObjectTable,
  ) {}

  /** capable(cap) (seed: the effective set, namespaces ignored) or ns_capable(ns, cap). */
  capable(c: Cred, cap: number, ns: UserNamespace = c.user.ns): boolean {
    return this.profile.idMaps ? nsCapable(c, ns, cap) : hasCap(c.caps.effective, cap);
  }

  /** make_kuid()/make_kgid() succeeds: the id exists in the caller's namespace. */
  validId(c: Cred, id: number, kind: 'uid' | 'gid'): boolean {
    if (!Number.isInteger(id) || id < 0 || id >= INVALID_ID) return false;
    return !this.profile.idMaps || kernelId(c.user.ns, id, kind) >= 0;
  }

  apply(c: Cred, nnp: boolean, op: CredOp): OpOutcome {
    switch (op.op) {
      case 'setresuid':
        return this.setresid(c, nnp, 'uid', op.ruid, op.euid, op.suid);
      case 'setresgid':
        return this.setresid(c, nnp, 'gid', op.rgid, op.egid, op.sgid);
      case 'setfsuid':
        return this.setfsid(c, nnp, 'uid', op.fsuid);
      case 'setfsgid':
        return this.setfsid(c, nnp, 'gid', op.fsgid);
      case 'setgroups':
        return this.setgroups(c, nnp, op.gids);
      case 'capset':
        return this.capset(c, nnp, op.inheritable, op.permitted, op.effective);
      case 'set_securebits':
        return this.setSecurebits(c, nnp, op.bits);
      case 'set_keepcaps':
        return this.setKeepcaps(c, nnp, op.on);
      case 'capbset_drop':
        return this.capbsetDrop(c, nnp, op.cap);
      case 'ambient_raise':
      case 'ambient_lower':
      case 'ambient_clear_all':
        return this.ambient(c, nnp, op);
      case 'set_no_new_privs':
        return this.setNoNewPrivs(c, nnp);
      case 'unshare_user':
        return this.unshareUser(c, nnp, op);
      case 'execve':
        return this.execve(c, nnp, op.path, op.file);
      default: {
        const never: never = op;
        throw new RangeError(`unknown CredOp ${JSON.stringify(never)}`);
      }
    }
  }

  private ok(c: Cred, nnp: boolean, step: Step): OpOutcome {
    return { ok: true, cred: c, noNewPrivs: nnp, step };
  }

  private fail(c: Cred, nnp: boolean, step: Step): OpOutcome {
    return { ok: false, errno: step.errno, cred: c, noNewPrivs: nnp, step };
  }

  // --- ids ---------------------------------------------------------------------------------

  private setresid(c: Cred, nnp: boolean, kind: 'uid' | 'gid', r: IdArg, e: IdArg, s: IdArg): OpOutcome {
    const isUid = kind === 'uid';
    const name = () => `setres${kind}(${r},${e},${s})`;
    const kr = keep(r);
    const ke = keep(e);
    const ks = keep(s);
    const bad = (!kr && !this.validId(c, r, kind)) ? r : (!ke && !this.validId(c, e, kind)) ? e : (!ks && !this.validId(c, s, kind)) ? s : null;
    if (bad !== null) {
      return this.fail(c, nnp, refuse(name(), `setres${kind}.unmapped`, 'EINVAL',
        `${name()} refused: ${kind} ${bad} has no mapping in the caller's user namespace`));
    }
    const [f0, f1, f2, f3] = isUid ? UID_FIELDS : GID_FIELDS;
    const c0 = isUid ? c.uid : c.gid;
    const c1 = isUid ? c.euid : c.egid;
    const c2 = isUid ? c.suid : c.sgid;
    // The ids asked for are mapped (checked above); the caller's are compared as kernel ids (an
    // unmapped one, shown as 65534, is none of them): idKey.
    const u = unmappedIds(c);
    const k0 = u ? idKey(c, f0) : c0;
    const k1 = u ? idKey(c, f1) : c1;
    const k2 = u ? idKey(c, f2) : c2;
    const foreign = (x: number, k: boolean) => !k && x !== k0 && x !== k1 && x !== k2;
    const cap = isUid ? CAP_SETUID : CAP_SETGID;
    if ((foreign(r, kr) || foreign(e, ke) || foreign(s, ks)) && !this.capable(c, cap)) {
      const x = foreign(r, kr) ? r : foreign(e, ke) ? e : s;
      return this.fail(c, nnp, refuse(name(), `setres${kind}.cap-set${kind}`, 'EPERM',
        `${name()} refused: the caller (${kind} ${c0}) lacks ${capName(cap)} and ${x} is none of its ${kind}s ${c0}/${c1}/${c2}`));
    }
    // Today's kernels return early, committing nothing, when no id would change (an euid asked
    // must also equal the fs id): fsuid/fsgid then keep a value setfs*id gave them.
    const c3 = isUid ? c.fsuid : c.fsgid;
    if ((kr || r === k0) && (ke || (e === k1 && e === (u ? idKey(c, f3) : c3))) && (ks || s === k2)) {
      return this.ok(c, nnp, allowLazy(`setres${kind}.unchanged`, () => [name(), `${name()}: nothing changes (${kind}s stay ${c0}/${c1}/${c2}, fs${kind} ${c3})`]));
    }
    const nr = kr ? c0 : r;
    const ne = ke ? c1 : e;
    const ns = ks ? c2 : s;
    const n = clone(c);
    if (u) withUnmapped(n, moveUnmapped(u, { [f0]: kr ? f0 : null, [f1]: ke ? f1 : null, [f2]: ks ? f2 : null, [f3]: ke ? f1 : null }));
    if (!isUid) {
      n.gid = nr;
      n.egid = ne;
      n.sgid = ns;
      n.fsgid = ne;
      return this.ok(n, nnp, allowLazy('setresgid.allowed', () => [name(), `${name()}: gids now ${nr}/${ne}/${ns}, fsgid ${ne}`]));
    }
    n.uid = nr;
    n.euid = ne;
    n.suid = ns;
    n.fsuid = ne;
    if (!kr && r !== k0) n.user = this.objects.user(nr, c.user.ns);
    let fixed = false;
    if (!issecure(c, SECBIT.NO_SETUID_FIXUP)) {
      const caps = fixSetuid(c, n, issecure(c, SECBIT.KEEP_CAPS), this.profile.ambient);
      if (caps !== c.caps) {
        n.caps = caps;
        fixed = true;
      }
    }
    return this.ok(n, nnp, allowLazy('setresuid.allowed', () => [name(), `${name()}: uids now ${nr}/${ne}/${ns}, fsuid ${ne}` +
      (fixed ? `; capabilities now permitted {${capList(n.caps.permitted)}} effective {${capList(n.caps.effective)}}` : '')]));
  }

  private setfsid(c: Cred, nnp: boolean, kind: 'uid' | 'gid', f: number): OpOutcome {
    const isUid = kind === 'uid';
    const name = `setfs${kind}(${f})`;
    if (!this.validId(c, f, kind)) {
      return this.fail(c, nnp, refuse(name, `setfs${kind}.unmapped`, 'EINVAL',
        `${name} refused: ${kind} ${f} has no mapping in the caller's user namespace`));
    }
    const fields = isUid ? UID_FIELDS : GID_FIELDS;
    const cur = isUid ? [c.uid, c.euid, c.suid, c.fsuid] : [c.gid, c.egid, c.sgid, c.fsgid];
    const u = unmappedIds(c);
    const keys = u ? fields.map((x) => idKey(c, x)) : cur;
    const oldFs = cur[3];
    if (f === keys[3]) return this.ok(c, nnp, allowLazy(`setfs${kind}.unchanged`, () => [name, `${name}: fs${kind} is already ${f}`]));
    const cap = isUid ? CAP_SETUID : CAP_SETGID;
    if (!keys.includes(f) && !this.capable(c, cap)) {
      return this.fail(c, nnp, refuse(name, `setfs${kind}.cap-set${kind}`, 'EPERM',
        `${name} refused: the caller lacks ${capName(cap)} and ${f} is none of its ${kind}s ${cur.join('/')}`));
    }
    const n = clone(c);
    if (u) withUnmapped(n, moveUnmapped(u, { [fields[3]]: null }));
    if (!isUid) {
      n.fsgid = f;
      return this.ok(n, nnp, allowLazy('setfsgid.allowed', () => [name, `${name}: fsgid now ${f}`]));
    }
    n.fsuid = f;
    if (!issecure(c, SECBIT.NO_SETUID_FIXUP)) {
      let eff = c.caps.effective;
      if (oldFs === 0 && f !== 0) eff &= ~CAP_FS_SET;
      if (oldFs !== 0 && f === 0) eff |= c.caps.permitted & CAP_FS_SET;
      const o = c.caps;
      if (eff !== o.effective) n.caps = capsOf(o.inheritable, o.permitted, eff, o.bounding, o.ambient);
    }
    return this.ok(n, nnp, allowLazy('setfsuid.allowed', () => [name, `${name}: fsuid now ${f}`]));
  }

  private setgroups(c: Cred, nnp: boolean, gids: readonly number[]): OpOutcome {
    const name = `setgroups([${gids.length > 8 ? `${gids.slice(0, 8).join(',')},...` : gids.join(',')}])`;
    const ns = c.user.ns;
    if (!this.capable(c, CAP_SETGID)) {
      return this.fail(c, nnp, refuse(name, 'setgroups.cap-setgid', 'EPERM',
        `${name} refused: the caller (uid ${c.uid}) lacks CAP_SETGID in its user namespace`));
    }
    if (this.profile.idMaps && parentNs(ns)) {
      if (ns.setgroups === 'deny') {
        return this.fail(c, nnp, refuse(name, 'setgroups.denied', 'EPERM',
          `${name} refused: /proc/self/setgroups is "deny" in the caller's user namespace`));
      }
      if (!ns.gidMap || ns.gidMap.length === 0) {
        return this.fail(c, nnp, refuse(name, 'setgroups.no-gid-map', 'EPERM',
          `${name} refused: the caller's user namespace has no gid_map yet`));
      }
    }
    if (gids.length > NGROUPS_MAX) {
      return this.fail(c, nnp, refuse(name, 'setgroups.ngroups-max', 'EINVAL',
        `${name} refused: ${gids.length} groups is more than NGROUPS_MAX (${NGROUPS_MAX})`));
    }
    for (const g of gids) {
      if (!this.validId(c, g, 'gid')) {
        return this.fail(c, nnp, refuse(name, 'setgroups.unmapped', 'EINVAL',
          `${name} refused: gid ${g} has no mapping in the caller's user namespace`));
      }
    }
    const groups = this.objects.groups(gids);
    const n = clone(c);
    n.groups = groups;
    const u = unmappedIds(c);
    if (u?.groups) {
      const ids: UnmappedIds = { ...u };
      delete ids.groups; // every gid asked for is mapped
      withUnmapped(n, ids);
    }
    return this.ok(n, nnp, allow(name, 'setgroups.allowed', `${name}: supplementary groups now [${groups.gids.join(',')}]`));
  }

  // --- capabilities ------------------------------------------------------------------------

  private capset(c: Cred, nnp: boolean, i: bigint, p: bigint, e: bigint): OpOutcome {
    const name = () => `capset(i=${i.toString(16)},p=${p.toString(16)},e=${e.toString(16)})`;
    const o = c.caps;
    const r = capsetRule(c, i, p, e);
    if (r) return this.fail(c, nnp, refuse(name(), r.rule, 'EPERM', `${name()} refused: ${r.why}`));
    const ambient = this.profile.ambient ? o.ambient & p & i : 0n;
    const n = withCaps(c, capsOf(i, p, e, o.bounding, ambient));
    return this.ok(n, nnp, allowLazy('capset.allowed', () => [name(),
      `${name()}: permitted {${capList(p)}}${ambient !== o.ambient ? `; ambient now {${capList(ambient)}}` : ''}`]));
  }

  private setSecurebits(c: Cred, nnp: boolean, b: number): OpOutcome {
    const name = `prctl(PR_SET_SECUREBITS, 0x${b.toString(16)})`;
    const r = securebitsRule(this.profile, c, b, this.capable(c, CAP_SETPCAP));
    if (r) return this.fail(c, nnp, refuse(name, r.rule, 'EPERM', `${name} refused: ${r.why}`));
    const n = clone(c);
    n.securebits = b;
    return this.ok(n, nnp, allow(name, 'securebits.allowed', `${name}: securebits now 0x${b.toString(16)}`));
  }

  private setKeepcaps(c: Cred, nnp: boolean, on: boolean): OpOutcome {
    const name = `prctl(PR_SET_KEEPCAPS, ${on ? 1 : 0})`;
    if (issecure(c, SECBIT.KEEP_CAPS_LOCKED)) {
      return this.fail(c, nnp, refuse(name, 'keepcaps.locked', 'EPERM', `${name} refused: SECBIT_KEEP_CAPS_LOCKED is set`));
    }
    const b = on ? bits(c) | SECBIT.KEEP_CAPS : bits(c) & ~SECBIT.KEEP_CAPS;
    const n = clone(c);
    n.securebits = b;
    return this.ok(n, nnp, allow(name, 'keepcaps.allowed', `${name}: securebits now 0x${b.toString(16)}`));
  }

  private capbsetDrop(c: Cred, nnp: boolean, cap: number): OpOutcome {
    const name = `prctl(PR_CAPBSET_DROP, ${capName(cap)})`;
    if (!this.capable(c, CAP_SETPCAP)) {
      return this.fail(c, nnp, refuse(name, 'capbset.cap-setpcap', 'EPERM', `${name} refused: the caller lacks CAP_SETPCAP`));
    }
    if (!Number.isInteger(cap) || cap < 0 || cap > this.profile.lastCap) {
      return this.fail(c, nnp, refuse(name, 'capbset.invalid-cap', 'EINVAL',
        `${name} refused: ${cap} is not a capability of this kernel (last is ${this.profile.lastCap})`));
    }
    const n = withCaps(c, { ...c.caps, bounding: c.caps.bounding & ~capBit(cap) });
    return this.ok(n, nnp, allow(name, 'capbset.allowed', `${name}: dropped from the bounding set`));
  }

  private ambient(c: Cred, nnp: boolean, op: Extract<CredOp, { op: 'ambient_raise' | 'ambient_lower' | 'ambient_clear_all' }>): OpOutcome {
    const name = op.op === 'ambient_clear_all' ? 'prctl(PR_CAP_AMBIENT_CLEAR_ALL)'
      : `prctl(PR_CAP_AMBIENT_${op.op === 'ambient_raise' ? 'RAISE' : 'LOWER'}, ${capName(op.cap)})`;
    if (!this.profile.ambient) {
      return this.fail(c, nnp, refuse(name, 'seed.no-ambient', 'EINVAL', `${name} refused: this kernel has no ambient capabilities`));
    }
    const a = c.caps.ambient;
    if (op.op === 'ambient_clear_all') {
      return this.ok(a === 0n ? c : withCaps(c, { ...c.caps, ambient: 0n }), nnp, allow(name, 'ambient.clear', `${name}: ambient set cleared`));
    }
    const cap = op.cap;
    if (!Number.isInteger(cap) || cap < 0 || cap > this.profile.lastCap) {
      return this.fail(c, nnp, refuse(name, 'ambient.invalid-cap', 'EINVAL', `${name} refused: ${cap} is not a capability of this kernel`));
    }
    if (op.op === 'ambient_raise') {
      if (!hasCap(c.caps.permitted, cap) || !hasCap(c.caps.inheritable, cap)) {
        return this.fail(c, nnp, refuse(name, 'ambient.raise-needs-permitted-and-inheritable', 'EPERM',
          `${name} refused: ${capName(cap)} is not in both the permitted and inheritable sets`));
      }
      if (issecure(c, SECBIT.NO_CAP_AMBIENT_RAISE)) {
        return this.fail(c, nnp, refuse(name, 'ambient.secbit-no-raise', 'EPERM', `${name} refused: SECBIT_NO_CAP_AMBIENT_RAISE is set`));
      }
      const o = c.caps;
      return this.ok(withCaps(c, capsOf(o.inheritable, o.permitted, o.effective, o.bounding, a | capBit(cap))), nnp, allowLazy('ambient.raise', () => [name, `${name}: raised`]));
    }
    const o = c.caps;
    return this.ok(withCaps(c, capsOf(o.inheritable, o.permitted, o.effective, o.bounding, a & ~capBit(cap))), nnp, allowLazy('ambient.lower', () => [name, `${name}: lowered`]));
  }

  private setNoNewPrivs(c: Cred, nnp: boolean): OpOutcome {
    const name = 'prctl(PR_SET_NO_NEW_PRIVS, 1)';
    if (!this.profile.noNewPrivs) {
      return this.fail(c, nnp, refuse(name, 'seed.no-nnp', 'EINVAL', `${name} refused: this kernel has no no_new_privs`));
    }
    return this.ok(c, true, allow(name, 'no-new-privs.set', `${name}: no_new_privs set (it cannot be cleared)`));
  }

  // --- user namespaces ---------------------------------------------------------------------

  private unshareUser(c: Cred, nnp: boolean, op: Extract<CredOp, { op: 'unshare_user' }>): OpOutcome {
    const name = 'unshare(CLONE_NEWUSER)';
    const parent = c.user.ns;
    if (!this.profile.idMaps) {
      // 2.6.34 only creates user namespaces with clone(CLONE_NEWUSER); we play that.
      if (op.uidMap || op.gidMap || op.setgroups) {
        return this.fail(c, nnp, refuse(name, 'seed.no-maps', 'EINVAL', `${name} refused: this kernel has no uid_map, gid_map or setgroups files`));
      }
      for (const cap of [CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID]) {
        if (!hasCap(c.caps.effective, cap)) {
          return this.fail(c, nnp, refuse(name, 'seed.userns-needs-caps', 'EPERM',
            `${name} refused: this kernel needs CAP_SYS_ADMIN, CAP_SETUID and CAP_SETGID, and the caller lacks ${capName(cap)}`));
        }
      }
      const ns: UserNamespace = Object.freeze({ creator: c.user });
      const n: Cred = { ...c, uid: 0, euid: 0, suid: 0, fsuid: 0, gid: 0, egid: 0, sgid: 0, fsgid: 0,
        user: this.objects.user(0, ns), groups: this.objects.emptyGroups };
      return this.ok(n, nnp, allow(name, 'seed.userns-created', `${name}: new user namespace, the task is uid 0 in it`));
    }
    if (nsLevel(parent) >= this.profile.maxNsLevel) {
      return this.fail(c, nnp, refuse(name, 'userns.max-depth', 'ENOSPC', `${name} refused: user namespaces nest at most 33 levels below the initial one`));
    }
    // kuid_has_mapping(parent, euid): an euid shown as 65534 for want of a mapping has none,
    // even where a real 65534 is mapped (idKey < 0).
    if (idKey(c, 'euid') < 0 || idKey(c, 'egid') < 0 || !this.validId(c, c.euid, 'uid') || !this.validId(c, c.egid, 'gid')) {
      return this.fail(c, nnp, refuse(name, 'userns.owner-unmapped', 'EPERM',
        `${name} refused: the caller's euid ${c.euid} or egid ${c.egid} has no mapping in its namespace`));
    }
    const creator = this.objects.user(c.euid, parent);
    // The helper opens /proc/PID/{setgroups,uid_map,gid_map} (mode 0644, owned by the task's euid
    // and egid: the task is dumpable) with the caller's creds: its fsuid must be the owner, or it
    // needs CAP_DAC_OVERRIDE (in its own namespace, where the owner is mapped).
    const writes = op.setgroups !== undefined || op.uidMap !== undefined || op.gidMap !== undefined;
    const fileAccess = !writes || idKey(c, 'fsuid') === idKey(c, 'euid') || hasCap(c.caps.effective, CAP.DAC_OVERRIDE);
    // The helper in the parent level writes setgroups, then uid_map, then gid_map.
    let setgroups: 'allow' | 'deny' = parent.setgroups === 'deny' && parentNs(parent) ? 'deny' : 'allow';
    let failure: Step | undefined;
    if (!fileAccess) {
      failure = refuse(name, 'userns.map-file-access', 'EACCES',
        `${name}: the helper cannot open the new namespace's map files: its fsuid ${c.fsuid} is not their owner (euid ${c.euid}) and it lacks CAP_DAC_OVERRIDE`);
    }
    if (!failure && op.setgroups) {
      if (op.setgroups === 'allow' && setgroups === 'deny') {
        failure = refuse(name, 'setgroups-file.reenable', 'EPERM', `${name}: writing "allow" to setgroups refused: the parent namespace denies setgroups`);
      } else setgroups = op.setgroups;
    }
    const target: UserNamespace = { creator, setgroups };
    let uidMap: readonly IdMapExtent[] | undefined;
    let gidMap: readonly IdMapExtent[] | undefined;
    if (!failure && op.uidMap) {
      const r = this.mapWriteRule(target, c, op.uidMap, 'uid');
      if (r) failure = refuse(name, r.rule, r.errno, `${name}: writing uid_map refused: ${r.why}`);
      else uidMap = op.uidMap.map((e) => ({ ...e }));
    }
    if (!failure && op.gidMap) {
      const r = this.mapWriteRule(target, c, op.gidMap, 'gid');
      if (r) failure = refuse(name, r.rule, r.errno, `${name}: writing gid_map refused: ${r.why}`);
      else gidMap = op.gidMap.map((e) => ({ ...e }));
    }
    const ns: UserNamespace = Object.freeze({ creator, setgroups, ...(uidMap ? { uidMap } : {}), ...(gidMap ? { gidMap } : {}) });
    const full = fullCapSet(this.profile.lastCap);
    // The task keeps its kernel ids; those the new maps do not cover show as 65534 and are
    // recorded as kernel ids (lib/model/unmapped.ts unmappedIds), as are those it could not see already.
    const u = unmappedIds(c);
    const hidden: UnmappedIds = {};
    const down = (f: IdField): number => {
      const m = f.endsWith('uid') ? uidMap : gidMap;
      const k = u?.[f];
      if (k === undefined) {
        const v = mapDown(m, c[f]);
        if (v >= 0) return v;
        const kid = kernelId(parent, c[f], f.endsWith('uid') ? 'uid' : 'gid');
        if (kid >= 0) hidden[f] = kid;
      } else hidden[f] = k;
      return OVERFLOW_ID;
    };
    // Supplementary groups as keys (idKey): shown gids, unmappedKey(kgid) for unmapped ones.
    const groupKeys = (u?.groups ?? c.groups.gids).map((g) => {
      if (g < 0) return g;
      const v = mapDown(gidMap, g);
      if (v >= 0) return v;
      const kid = kernelId(parent, g, 'gid');
      return kid >= 0 ? unmappedKey(kid) : OVERFLOW_ID;
    });
    if (groupKeys.some((g) => g < 0)) hidden.groups = groupKeys;
    const uid = down('uid');
    const n: Cred = {
      uid,
      euid: down('euid'),
      suid: down('suid'),
      fsuid: down('fsuid'),
      gid: down('gid'),
      egid: down('egid'),
      sgid: down('sgid'),
      fsgid: down('fsgid'),
      groups: this.objects.groups(groupKeys.map((g) => (g < 0 ? OVERFLOW_ID : g))),
      user: this.objects.user(uid, ns),
      caps: { inheritable: 0n, permitted: full, effective: full, bounding: full, ambient: 0n },
      securebits: 0,
      ...(c.secRef !== undefined ? { secRef: c.secRef } : {}),
    };
    withUnmapped(n, hidden);
    if (failure) return { ok: false, errno: failure.errno, cred: n, noNewPrivs: nnp, step: failure };
    return this.ok(n, nnp, allow(name, 'userns.created',
      `${name}: new user namespace (level ${nsLevel(ns)}) owned by uid ${c.euid}; the task has every capability in it` +
        (uidMap ? '' : '; no uid_map: its ids show as 65534')));
  }

  /**
   * May `writer` (in ns's parent) write `map` to ns's uid_map/gid_map (kernel/user_namespace.c
   * map_write + new_idmap_permitted)? null when yes.
   */
  mapWriteRule(ns: UserNamespace, writer: Cred, map: readonly IdMapExtent[], kind: 'uid' | 'gid'):
    { rule: string; errno: string; why: string } | null {
    const file = `${kind}_map`;
    if (map.length === 0) return { rule: `${file}.empty`, errno: 'EINVAL', why: 'an empty map' };
    if (map.length > MAX_ID_EXTENTS) return { rule: `${file}.too-many-lines`, errno: 'EINVAL', why: `${map.length} lines, at most ${MAX_ID_EXTENTS}` };
    for (const e of map) {
      if (!(e.count > 0) || e.inside < 0 || e.outside < 0 || e.inside + e.count > INVALID_ID || e.outside + e.count > INVALID_ID) {
        return { rule: `${file}.bad-extent`, errno: 'EINVAL', why: `bad extent ${e.inside} ${e.outside} ${e.count}` };
      }
    }
    for (let a = 0; a < map.length; a++) {
      for (let b = a + 1; b < map.length; b++) {
        const x = map[a];
        const y = map[b];
        const overlap = (p: number, q: number) => p < q + y.count && q < p + x.count;
        if (overlap(x.inside, y.inside) || overlap(x.outside, y.outside)) {
          return { rule: `${file}.overlap`, errno: 'EINVAL', why: `lines ${a + 1} and ${b + 1} overlap` };
        }
      }
    }
    const parent = parentNs(ns)!;
    const cap = kind === 'uid' ? CAP_SETUID : CAP_SETGID;
    let permitted = false;
    // Compared as kernel ids: the writer may sit in the parent (unshare) or above it (restart).
    // (credKernelId: an id the writer sees as 65534 for want of a mapping is its kernel id.)
    const writerEuid = credKernelId(writer, 'euid');
    if (map.length === 1 && map[0].count === 1 && writerEuid >= 0 && kernelId(parent, ns.creator!.uid, 'uid') === writerEuid) {
      if (kind === 'uid' && kernelId(parent, map[0].outside, 'uid') === writerEuid) permitted = true;
      if (kind === 'gid' && ns.setgroups === 'deny' && kernelId(parent, map[0].outside, 'gid') === credKernelId(writer, 'egid')) permitted = true;
    }
    // verify_root_map runs first in new_idmap_permitted, even for the one-line own-uid map.
    if (kind === 'uid' && map.some((e) => e.outside === 0) && !nsCapable(writer, parent, CAP_SETFCAP)) {
      return { rule: 'uid_map.root-needs-setfcap', errno: 'EPERM', why: "mapping the parent's uid 0 needs CAP_SETFCAP in the parent namespace" };
    }
    if (!permitted && nsCapable(writer, parent, cap)) permitted = true;
    if (!permitted) {
      const own = kind === 'uid' ? `its own euid ${writer.euid}` : `its own egid ${writer.egid}, after setgroups "deny"`;
      return { rule: `${file}.unprivileged`, errno: 'EPERM',
        why: `the writer lacks ${capName(cap)} in the parent namespace, so it may only map ${own} with one line of count 1` };
    }
    // map_write maps each line's range through ONE extent of the parent's map
    // (map_id_range_down): a range that spans two parent lines is refused, though every id in it
    // is mapped. The initial namespace maps every id.
    const parentMap = kind === 'uid' ? parent.uidMap : parent.gidMap;
    for (const e of map) {
      const inOne = !parent.creator || (parentMap ?? []).some((p) => p.inside <= e.outside && e.outside + e.count <= p.inside + p.count);
      if (!inOne) {
        return { rule: `${file}.outside-unmapped`, errno: 'EPERM', why: `ids ${e.outside}..${e.outside + e.count - 1} do not lie within one line of the parent namespace's map` };
      }
    }
    return null;
  }

  // --- execve ------------------------------------------------------------------------------

  private execve(c: Cred, nnp: boolean, path: string, file: Parameters<typeof computeExec>[2]): OpOutcome {
    const name = `execve(${path})`;
    try {
      const r = computeExec(c, nnp, file, this.profile);
      const n = r.cred;
      return this.ok(n, nnp, allow(name, r.rules.length ? r.rules[r.rules.length - 1] : 'execve.plain',
        `${name}: runs as uid ${n.uid} euid ${n.euid} with permitted {${capList(n.caps.permitted)}} effective {${capList(n.caps.effective)}}` +
          (r.rules.length ? ` (${r.rules.join(', ')})` : '')));
    } catch (e) {
      if (e instanceof ExecDenied) return this.fail(c, nnp, refuse(name, e.rule, e.errno, e.message));
      throw e;
    }
  }
}

/** cap_emulate_setxuid: the capability fixup of a uid change. Returns c.caps when unchanged. */
export function fixSetuid(old: Cred, n: Cred, keepCaps: boolean, ambient: boolean): Cred['caps'] {
  let { permitted, effective, ambient: amb } = old.caps;
  const oldRoot = old.uid === 0 || old.euid === 0 || old.suid === 0;
  const newRoot = n.uid === 0 || n.euid === 0 || n.suid === 0;
  if (oldRoot && !newRoot) {
    if (!keepCaps) {
      permitted = 0n;
      effective = 0n;
    }
    if (ambient) amb = 0n;
  }
  if (old.euid === 0 && n.euid !== 0) effective = 0n;
  if (old.euid !== 0 && n.euid === 0) effective = permitted;
  const o = old.caps;
  if (permitted === o.permitted && effective === o.effective && amb === o.ambient) return o;
  return capsOf(o.inheritable, permitted, effective, o.bounding, amb);
}

/** cap_capset's checks against the caller `old`; null when allowed. */
export function capsetRule(old: Cred, i: bigint, p: bigint, e: bigint): { rule: string; why: string } | null {
  const o = old.caps;
  if (!hasCap(o.effective, CAP_SETPCAP) && !subset(i, o.inheritable | o.permitted)) {
    return { rule: 'capset.inheritable-needs-setpcap',
      why: `without CAP_SETPCAP the inheritable set may only gain permitted capabilities, not {${capList(i & ~(o.inheritable | o.permitted))}}` };
  }
  if (!subset(i, o.inheritable | o.bounding)) {
    return { rule: 'capset.inheritable-bounding', why: `{${capList(i & ~(o.inheritable | o.bounding))}} are outside the bounding set` };
  }
  if (!subset(p, o.permitted)) {
    return { rule: 'capset.permitted-grow', why: `the permitted set cannot gain {${capList(p & ~o.permitted)}}` };
  }
  if (!subset(e, p)) {
    return { rule: 'capset.effective-not-permitted', why: `effective {${capList(e & ~p)}} are not permitted` };
  }
  return null;
}

/** PR_SET_SECUREBITS' checks ([1]..[4] of cap_task_prctl); null when allowed. */
export function securebitsRule(profile: KernelProfile, old: Cred, b: number, hasSetpcap: boolean): { rule: string; why: string } | null {
  const ob = bits(old);
  const locks = ob & profile.securebitsLocks;
  if (!Number.isInteger(b) || b < 0) return { rule: 'securebits.unknown-bit', why: `0x${b.toString(16)} is not a securebits word` };
  if ((locks >>> 1) & (ob ^ b)) return { rule: 'securebits.locked-bit', why: `bit(s) 0x${(((locks >>> 1) & (ob ^ b)) >>> 0).toString(16)} (${securebitNames((locks >>> 1) & (ob ^ b)).join(', ')}) are locked and cannot change` };
  if (locks & ~b) return { rule: 'securebits.unlock', why: `lock(s) 0x${((locks & ~b) >>> 0).toString(16)} (${securebitNames(locks & ~b).join(', ')}) are set and cannot be cleared` };
  // >>> 0: a word with bit 31 set is a negative int32 after &; shown as the u32 it is.
  const unknown = (b & ~(profile.securebitsMask | profile.securebitsLocks)) >>> 0;
  if (unknown) return { rule: 'securebits.unknown-bit', why: `bit(s) 0x${unknown.toString(16)} do not exist on this kernel` };
  if (!hasSetpcap) {
    // Since 6.14 the exec-restriction bits (SECURE_ALL_UNPRIVILEGED) and their locks are the
    // task's own business: a real change of only those needs no CAP_SETPCAP; a no-op still does.
    const unpriv = profile.securebitsMask & (SECBIT.EXEC_RESTRICT_FILE | SECBIT.EXEC_DENY_INTERACTIVE);
    const changed = ob ^ b;
    if (changed === 0 || (changed & ~(unpriv | (unpriv << 1))) !== 0) {
      return { rule: 'securebits.cap-setpcap', why: 'the caller lacks CAP_SETPCAP (needed for any change of securebits but the exec-restriction bits, and for a no-op)' };
    }
  }
  return null;
}
