// Id maps (uid_map / gid_map lines) and the walks along a chain of user namespaces: the one place
// that translates an id between levels. The emulator's rules, the image codec, live checkpoint,
// restart and inspect all translate through these.
//
// "No mapping" is -1, everywhere. It is what the kernel's map_id_up / map_id_down give back
// ((u32)-1, never a valid id), so the emulator reads like the kernel source; every result stays a
// number (an id field, a Uint32 in the image, a comparison key), so callers test `< 0` and never
// carry a second kind of value; and emulator.kernelId has always answered -1.
import type { IdMapExtent, UserNamespace } from './types';

/** (uid_t)-1: never a valid id. */
export const INVALID_ID = 0xffffffff;

/** An id a kernel could hold: an integer in [0, (uid_t)-1). */
export function validId(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id < INVALID_ID;
}

/** inside -> outside through one map; -1 when unmapped (or no map). */
export function mapUp(map: readonly IdMapExtent[] | undefined, id: number): number {
  if (!map) return -1;
  for (const e of map) if (id >= e.inside && id - e.inside < e.count) return e.outside + (id - e.inside);
  return -1;
}

/** outside -> inside through one map; -1 when unmapped (or no map). */
export function mapDown(map: readonly IdMapExtent[] | undefined, id: number): number {
  if (!map) return -1;
  for (const e of map) if (id >= e.outside && id - e.outside < e.count) return e.inside + (id - e.outside);
  return -1;
}

/** `id` down `maps` (outermost first, each relative to the level above); -1 when some level does not map it. */
export function mapThrough(maps: readonly (readonly IdMapExtent[])[], id: number): number {
  let v = id;
  for (const m of maps) {
    v = mapDown(m, v);
    if (v < 0) return -1;
  }
  return v;
}

const mapOf = (ns: UserNamespace, kind: 'uid' | 'gid') => (kind === 'uid' ? ns.uidMap : ns.gidMap);

/** The namespace `ns` was created in; null for the outermost one. */
export function parentNs(ns: UserNamespace): UserNamespace | null {
  return ns.creator ? ns.creator.ns : null;
}

/** Namespaces from the outermost down to `ns`, outermost first. */
export function nsPath(ns: UserNamespace): UserNamespace[] {
  const out: UserNamespace[] = [];
  for (let cur: UserNamespace | null = ns; cur; cur = parentNs(cur)) out.push(cur);
  return out.reverse();
}

/**
 * `id` of `ns` as a kernel id (the outermost namespace's: the emulator's initial namespace, or an
 * image's root); -1 when some level does not map it. The id itself is not checked (kernelId is).
 */
export function toKernelId(ns: UserNamespace, id: number, kind: 'uid' | 'gid'): number {
  let v = id;
  for (let cur: UserNamespace | null = ns; cur && cur.creator; cur = parentNs(cur)) {
    v = mapUp(mapOf(cur, kind), v);
    if (v < 0) return -1;
  }
  return v;
}

/** toKernelId of a valid id (validId); -1 for any other, as the kernel's make_kuid refuses it. */
export function kernelId(ns: UserNamespace, id: number, kind: 'uid' | 'gid'): number {
  return validId(id) ? toKernelId(ns, id, kind) : -1;
}

/**
 * The id in `top` (an ancestor or `ns` itself) that `id` of `ns` is, following the maps upward;
 * -1 when some level has no mapping for it (or `top` is no ancestor).
 */
export function idUpTo(ns: UserNamespace, id: number, top: UserNamespace, kind: 'uid' | 'gid'): number {
  if (!validId(id)) return -1;
  let cur = ns;
  let v = id;
  while (cur !== top) {
    const parent = parentNs(cur);
    if (!parent) return -1;
    v = mapUp(mapOf(cur, kind), v);
    if (v < 0) return -1;
    cur = parent;
  }
  return v;
}

/** `id` of `anc` as seen from its descendant `ns`; -1 when unmapped on the way down (or `anc` is no ancestor). */
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
    v = mapDown(mapOf(path[i], kind), v);
    if (v < 0) return -1;
  }
  return v;
}

/**
 * Where a kernel id is visible on the way down to `ns`: the deepest namespace of `ns`'s chain
 * (outermost first, `ns` itself included) that maps it, and the id it shows there.
 */
export function nearestView(ns: UserNamespace, kid: number, kind: 'uid' | 'gid'): { ns: UserNamespace; level: number; id: number } {
  const path = nsPath(ns);
  let v = kid;
  let at = 0;
  for (let i = 1; i < path.length; i++) {
    const next = mapDown(mapOf(path[i], kind), v);
    if (next < 0) break;
    v = next;
    at = i;
  }
  return { ns: path[at], level: at, id: v };
}
