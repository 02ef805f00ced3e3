// The user namespaces an image's creds reach, each once, with its depth and place in the tree.
import type { Image } from '../format/types';
import type { UserNamespace } from '../model/types';

export interface NamespaceEntry {
  ns: UserNamespace;
  /** Position in the list; what `user.ns` in the JSON form points at. */
  index: number;
  /** Root (creator null) = 0. */
  depth: number;
  /** objref in the image, when known. */
  objref: number | null;
}

/**
 * Every namespace of the image's users and of their creators' chains, creators' namespaces
 * before the namespaces they created; in objref order when the objrefs are known.
 */
export function collectNamespaces(image: Image, objrefs?: Map<object, number>): NamespaceEntry[] {
  const order: UserNamespace[] = [];
  const depth = new Map<UserNamespace, number>();
  const visit = (start: UserNamespace): void => {
    // Walk up without recursion until a known namespace or a root, then add top-down.
    const chain: UserNamespace[] = [];
    const onChain = new Set<UserNamespace>();
    for (let n: UserNamespace | undefined = start; n && !depth.has(n) && !onChain.has(n); n = n.creator?.ns) {
      chain.push(n);
      onChain.add(n);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const n = chain[i];
      const parent = n.creator?.ns;
      depth.set(n, parent === undefined ? 0 : (depth.get(parent) ?? 0) + 1);
      order.push(n);
    }
  };
  for (const t of image.tasks) {
    visit(t.cred.user.ns);
    visit(t.ecred.user.ns);
  }
  const entries = order.map((ns, i) => ({ ns, index: i, depth: depth.get(ns) ?? 0, objref: objrefs?.get(ns) ?? null }));
  if (entries.every((e) => e.objref !== null)) entries.sort((a, b) => (a.objref as number) - (b.objref as number));
  entries.forEach((e, i) => (e.index = i));
  return entries;
}
