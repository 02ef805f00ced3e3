// User namespaces as the kernel sees them: levels and ns_capable(), the set-id map helpers' rules.
// Model objects (lib/model/types.ts) carry the state, and the id maps are walked by the model's
// lib/model/idmap.ts; levels are cached here by identity.
import { hasCap } from '../model/capabilities';
import { parentNs } from '../model/idmap';
import { idKey } from '../model/unmapped';
import type { Cred, IdMapExtent, UserNamespace } from '../model/types';

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
