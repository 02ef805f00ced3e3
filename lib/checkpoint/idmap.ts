// /proc shows a task's ids mapped into the READER's user namespace; the image records them as
// the task sees them in its own namespace. Translating goes down the chain of maps, each
// relative to its parent level, from the caller's namespace to the task's.
import type { IdMapExtent } from '../model/types';

import { OVERFLOW_ID } from '../model/unmapped';
export { OVERFLOW_ID };

/** One map step: an id of the parent namespace to the child's view (undefined: unmapped). */
export function mapDown(map: readonly IdMapExtent[], outside: number): number | undefined {
  for (const e of map) {
    if (outside >= e.outside && outside - e.outside < e.count) return e.inside + (outside - e.outside);
  }
  return undefined;
}

/** `id` as the caller sees it, down `maps` (outermost first); undefined when some level does not map it. */
export function mapThrough(maps: readonly (readonly IdMapExtent[])[], id: number): number | undefined {
  let v = id;
  for (const m of maps) {
    const next = mapDown(m, v);
    if (next === undefined) return undefined;
    v = next;
  }
  return v;
}

/**
 * An id as the caller sees it, translated into the namespace at the end of `maps` (outermost
 * first). Ids that some level does not map come out as the overflow id, as the task itself
 * would see them.
 */
export function translateDown(maps: readonly (readonly IdMapExtent[])[], id: number): number {
  return mapThrough(maps, id) ?? OVERFLOW_ID;
}
