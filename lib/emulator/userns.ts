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
    if (parent === credNs && ns.creator!.uid === idKey(c, 'euid')) return true;
    ns = parent;
  }
}

// --- maps written by newuidmap / newgidmap (shadow's uidmap package) ---------------------------

/** Subordinate ids [start, start + count) of one /etc/subuid or /etc/subgid line. */
export interface IdRange {
  readonly start: number;
  readonly count: number;
}

/**
 * The restarter's subordinate ids, as newuidmap / newgidmap would grant them (already filtered
 * to the lines naming the restarter). A kind left undefined: no usable helper for that map.
 */
export interface Subordinate {
  readonly uids?: readonly IdRange[];
  readonly gids?: readonly IdRange[];
}

/** Is [start, start + count) inside the union of `ranges` (shadow's have_range)? */
export function rangeCovered(ranges: readonly IdRange[], start: number, count: number): boolean {
  if (!(count > 0)) return false;
  let from = start;
  const end = start + count; // exclusive
  // Each pass takes a range holding `from` and moves past it, as have_range walks find_range.
  for (let guard = 0; guard <= ranges.length; guard++) {
    const r = ranges.find((x) => x.count > 0 && from >= x.start && from < x.start + x.count);
    if (!r) return false;
    from = r.start + r.count;
    if (from >= end) return true;
  }
  return false;
}

/** The result of newuidmap's / newgidmap's own checks on a map (shadow 4.13 verify_range). */
export type HelperMapVerdict =
  | { ok: true; /** newgidmap writes "deny" to setgroups: no line came from the subordinate ids. */ setgroupsDeny: boolean }
  | { ok: false; extent: IdMapExtent; why: string };

/**
 * May newuidmap (kind 'uid') or newgidmap (kind 'gid') write `map` for a caller whose real id is
 * `own`, with subordinate ids `sub`? Each line's outer range must lie inside the subordinate ids,
 * or be one id, the caller's own. newgidmap leaves setgroups alone when some line came from the
 * subordinate ids, and otherwise writes "deny" before the map.
 */
export function helperMapRule(map: readonly IdMapExtent[], kind: 'uid' | 'gid', own: number, sub: readonly IdRange[]): HelperMapVerdict {
  let granted = false;
  for (const e of map) {
    if (rangeCovered(sub, e.outside, e.count)) granted = true;
    else if (!(e.count === 1 && e.outside === own)) {
      const file = kind === 'uid' ? '/etc/subuid' : '/etc/subgid';
      return {
        ok: false,
        extent: e,
        why: `outer ${kind}s ${e.outside}..${e.outside + e.count - 1} (line "${e.inside} ${e.outside} ${e.count}") are not within the caller's subordinate ${kind}s in ${file}` +
          ` (${sub.length ? sub.map((r) => `${r.start}..${r.start + r.count - 1}`).join(', ') : 'none'}) nor the caller's own ${kind} ${own}`,
      };
    }
  }
  return { ok: true, setgroupsDeny: kind === 'gid' && !granted };
}

/**
 * What newuidmap / newgidmap ask of the process they map, beyond the ranges: their real uid owns
 * the target (so the creator is the writer's real uid), and the target's egid is their real gid.
 * null when met, else why not.
 */
export function helperWriterRule(creatorKuid: number, writerKuid: number, writerGid: number, writerEgid: number): string | null {
  if (creatorKuid !== writerKuid)
    return `newuidmap and newgidmap map only a process their real uid owns: the namespace's creator (uid ${creatorKuid}) is not the caller's real uid ${writerKuid}`;
  if (writerGid !== writerEgid)
    return `newuidmap and newgidmap map only a process whose egid is their real gid: the caller's egid ${writerEgid} is not its real gid ${writerGid}`;
  return null;
}

// --- ids with no mapping in the task's namespace --------------------------------------------

/** The eight id fields of a cred. */
export type IdField = 'uid' | 'euid' | 'suid' | 'fsuid' | 'gid' | 'egid' | 'sgid' | 'fsgid';

/**
 * The kernel ids behind a cred's ids that have no mapping in its namespace. A Cred keeps ids as
 * the task sees them, so such an id reads OVERFLOW_ID in the cred, and so wherever a cred goes
 * (steps, snapshots, checkpoint images, plans); the kernel keeps the distinct kuid/kgid, and its
 * rules compare those (uid_eq). This side-table, keyed by the (immutable) cred, holds them for the
 * rules, which compare idKey()s rather than fields. Field f: the kernel id behind cred[f].
 * groups: the key of every supplementary group, present when one of them is unmapped. Absent:
 * every id is mapped (or the cred was built outside the rules, which then see ids as shown).
 */
export interface UnmappedIds extends Partial<Record<IdField, number>> {
  groups?: readonly number[];
}

const unmappedTable = new WeakMap<Cred, UnmappedIds>();

/** The cred's unmapped kernel ids; undefined (always, in the outermost namespace) when none. */
export function unmappedIds(c: Cred): UnmappedIds | undefined {
  return c.user.ns.creator ? unmappedTable.get(c) : undefined;
}

/** Records `u` (none when empty) for `c`, a cred being built; returns `c`. Entries are never
 *  changed after they are recorded, so creds may share one. */
export function withUnmapped(c: Cred, u: UnmappedIds | undefined): Cred {
  if (u && hasUnmapped(u)) unmappedTable.set(c, u);
  else if (c.user.ns.creator) unmappedTable.delete(c);
  return c;
}

function hasUnmapped(u: UnmappedIds): boolean {
  for (const k in u) if (u[k as keyof UnmappedIds] !== undefined) return true;
  return false;
}

/**
 * The entry of a cred derived from one with entry `u`, whose fields in `moves` now hold what the
 * old cred's field named there held, or (null) an id given by the caller, which is mapped.
 */
export function moveUnmapped(u: UnmappedIds | undefined, moves: Partial<Record<IdField, IdField | null>>): UnmappedIds | undefined {
  if (!u) return undefined;
  const out: UnmappedIds = { ...u };
  for (const f of Object.keys(moves) as IdField[]) {
    const from = moves[f];
    if (from && u[from] !== undefined) out[f] = u[from];
    else delete out[f];
  }
  return out;
}

/** A comparison key for an unmapped kernel id: negative, never a shown id. */
export const unmappedKey = (kid: number): number => -1 - kid;

/** cred[f] as a key: the id itself when mapped, unmappedKey(kernel id) when not. */
export function idKey(c: Cred, f: IdField): number {
  const k = unmappedIds(c)?.[f];
  return k === undefined ? c[f] : unmappedKey(k);
}

/** The kernel id behind cred[f]; -1 when it has none (an unmapped id of a cred built elsewhere). */
export function credKernelId(c: Cred, f: IdField): number {
  const k = unmappedIds(c)?.[f];
  return k !== undefined ? k : kernelId(c.user.ns, c[f], f.endsWith('uid') ? 'uid' : 'gid');
}
