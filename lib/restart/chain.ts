// A cred's user-namespace chain, and ids carried across it.
import type { Cred, IdMapExtent, UserNamespace } from '../model/types';

/** One level below the restarter's namespace: the namespace and its creator's uid in the parent. */
export interface ChainLevel {
  ns: UserNamespace;
  creatorUid: number;
}

/** Levels from the image's root namespace (excluded) down to the cred's own, outermost first. */
export function nsChain(cred: Cred): ChainLevel[] {
  const out: ChainLevel[] = [];
  const seen = new Set<UserNamespace>();
  for (let ns = cred.user.ns; ns.creator !== null; ns = ns.creator.ns) {
    if (seen.has(ns)) throw new RangeError('user namespace chain has a cycle');
    seen.add(ns);
    out.push({ ns, creatorUid: ns.creator.uid });
  }
  return out.reverse();
}

/** An inside id as the parent level sees it, or undefined when unmapped. */
export function mapUp(map: readonly IdMapExtent[] | undefined, id: number): number | undefined {
  for (const e of map ?? []) if (id >= e.inside && id - e.inside < e.count) return e.outside + (id - e.inside);
  return undefined;
}

/** A parent-level id as the namespace sees it, or undefined when unmapped. */
export function mapDown(map: readonly IdMapExtent[] | undefined, id: number): number | undefined {
  for (const e of map ?? []) if (id >= e.outside && id - e.outside < e.count) return e.inside + (id - e.outside);
  return undefined;
}

/** An id of the innermost level carried up to the restarter's level through every map. */
export function mapToRoot(levels: readonly ChainLevel[], id: number, kind: 'uid' | 'gid'): number | undefined {
  let v: number | undefined = id;
  for (let i = levels.length - 1; i >= 0 && v !== undefined; i--) {
    v = mapUp(kind === 'uid' ? levels[i].ns.uidMap : levels[i].ns.gidMap, v);
  }
  return v;
}
