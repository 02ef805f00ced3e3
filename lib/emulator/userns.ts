// User namespaces as the kernel sees them: parent links, levels, id maps and ns_capable().
// Model objects (lib/model/types.ts) carry the state; levels are cached here by identity.
import { hasCap } from '../model/capabilities';
import type { Cred, IdMapExtent, UserNamespace } from '../model/types';

/** The id a task sees for an id with no mapping in its namespace (/proc/sys/kernel/overflowuid). */
export const OVERFLOW_ID = 65534;
/** (uid_t)-1: never a valid id. */
export const INVALID_ID = 0xffffffff;

export function parentNs(ns: UserNamespace): UserNamespace | null {
  return ns.creator ? ns.creator.ns : null;
}

const levels = new WeakMap<UserNamespace, number>();

/** Depth below the outermost namespace (the emulator's init namespace, or an image's root). */
export function nsLevel(ns: UserNamespace): number {
  const known = levels.get(ns);
  if (known !== undefined) return known;
  // Iterative: crafted images can hold very deep chains.
  const chain: UserNamespace[] = [];
  let cur: UserNamespace | null = ns;
  let base = -1;
  while (cur) {
    const l = levels.get(cur);
    if (l !== undefined) {
      base = l;
      break;
    }
    chain.push(cur);
    cur = parentNs(cur);
  }
  for (let i = chain.length - 1; i >= 0; i--) levels.set(chain[i], ++base);
  return base;
}

/** Is `anc` `ns` itself or one of its ancestors? */
export function isAncestorOrSelf(anc: UserNamespace, ns: UserNamespace): boolean {
  const la = nsLevel(anc);
  let cur: UserNamespace | null = ns;
  while (cur && nsLevel(cur) > la) cur = parentNs(cur);
  return cur === anc;
}

/** inside -> outside through one map; -1 when unmapped. */
export function mapUp(map: readonly IdMapExtent[] | undefined, id: number): number {
  if (!map) return -1;
  for (const e of map) if (id >= e.inside && id - e.inside < e.count) return e.outside + (id - e.inside);
  return -1;
}

/** outside -> inside through one map; -1 when unmapped. */
export function mapDown(map: readonly IdMapExtent[] | undefined, id: number): number {
  if (!map) return -1;
  for (const e of map) if (id >= e.outside && id - e.outside < e.count) return e.inside + (id - e.outside);
  return -1;
}

function validRaw(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id < INVALID_ID;
}

/**
 * The id in `top` (an ancestor or `ns` itself) that `id` of `ns` is, following the maps upward;
 * -1 when some level has no mapping for it. kind selects uid_map or gid_map.
 */
export function idUpTo(ns: UserNamespace, id: number, top: UserNamespace, kind: 'uid' | 'gid'): number {
  if (!validRaw(id)) return -1;
  let cur = ns;
  let v = id;
  while (cur !== top) {
    const parent = parentNs(cur);
    if (!parent) return -1;
    v = mapUp(kind === 'uid' ? cur.uidMap : cur.gidMap, v);
    if (v < 0) return -1;
    cur = parent;
  }
  return v;
}

/** The id of the outermost namespace (the kernel id, kuid/kgid); -1 when unmapped. */
export function kernelId(ns: UserNamespace, id: number, kind: 'uid' | 'gid'): number {
  if (!validRaw(id)) return -1;
  let cur = ns;
  let v = id;
  for (;;) {
    const parent = parentNs(cur);
    if (!parent) return v;
    v = mapUp(kind === 'uid' ? cur.uidMap : cur.gidMap, v);
    if (v < 0) return -1;
    cur = parent;
  }
}

/** `id` of `anc` as seen from its descendant `ns`; -1 when unmapped on the way down. */
export function idDownTo(anc: UserNamespace, id: number, ns: UserNamespace, kind: 'uid' | 'gid'): number {
  const path: UserNamespace[] = [];
  let cur: UserNamespace | null = ns;
  while (cur && cur !== anc) {
    path.push(cur);
    cur = parentNs(cur);
  }
  if (cur !== anc) return -1;
  let v = id;
  for (let i = path.length - 1; i >= 0; i--) {
    v = mapDown(kind === 'uid' ? path[i].uidMap : path[i].gidMap, v);
    if (v < 0) return -1;
  }
  return v;
}

/**
 * ns_capable(target, cap) for a task with cred `c` (security/commoncap.c cap_capable): the cap
 * in c's effective set if target is c's own namespace; every cap if c's euid owns target or an
 * ancestor of it that is a child of c's namespace; nothing in namespaces that are not below c's.
 */
export function nsCapable(c: Cred, target: UserNamespace, cap: number): boolean {
  const credNs = c.user.ns;
  const credLevel = nsLevel(credNs);
  let ns = target;
  for (;;) {
    if (ns === credNs) return hasCap(c.caps.effective, cap);
    if (nsLevel(ns) <= credLevel) return false;
    const parent = parentNs(ns);
    if (!parent) return false;
    if (parent === credNs && ns.creator!.uid === c.euid) return true;
    ns = parent;
  }
}
