// restore_userns and restore_user: the image's user namespaces, outermost first, each created
// below its creator's namespace with its maps (written by the restarter, or by newuidmap /
// newgidmap one level below it), and the users that own them and the creds.
import { hasCap } from '../model/capabilities';
import { kernelId, parentNs } from '../model/idmap';
import type { User, UserNamespace } from '../model/types';
import { CAP_SETUID } from './caps';
import type { RestoreContext, Result } from './restore-context';
import { type Step, allow, allowLazy, refuse } from './step';
import { helperMapRule, helperWriterRule, nsCapable, nsLevel } from './userns';

export function restoreNs(cx: RestoreContext, ns: UserNamespace, creator: Result<User> | null): Result<UserNamespace> {
  const { p, R, restarter, kernel, objects, push, no, holds, hashNs, Rkuids } = cx;
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

/** restore_user (may_setuid). */
export function restoreUserOnly(cx: RestoreContext, u: User, ns: Result<UserNamespace>): Result<User> {
  const { p, R, objects, push, no, holds, hashUser, Rkuids } = cx;
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
export function restoreUser(cx: RestoreContext, u: User): Result<User> {
  const { hashNs, hashUser } = cx;
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
    if (ns.creator) creator = hashUser.get(ns.creator) ?? restoreUserOnly(cx, ns.creator, hashNs.get(ns.creator.ns)!);
    restoreNs(cx, ns, creator);
  }
  return restoreUserOnly(cx, u, hashNs.get(u.ns)!);
}
