// Depths in a process forest, from each process's parent link (linux-cr TaskPids.depth).

/**
 * Depth of each process below the tree's root(s) (linux-cr TaskPids.depth), in linear time.
 * A parent chain that loops calls `onLoop` (default: depth counted up to the loop).
 */
export function treeDepths(
  pstree: readonly { pid: number; ppid?: number }[],
  onLoop: (pid: number) => void = () => undefined,
): Map<number, number> {
  const parent = new Map(pstree.map((p) => [p.pid, p.ppid] as const));
  const depth = new Map<number, number>();
  for (const p of pstree) {
    if (depth.has(p.pid)) continue;
    // Walk up to a process of known depth (or a root), then assign on the way back down.
    const path: number[] = [];
    const onPath = new Set<number>();
    let q: number | undefined = p.pid;
    let base = -1;
    while (q !== undefined && parent.has(q)) {
      const known = depth.get(q);
      if (known !== undefined) {
        base = known;
        break;
      }
      if (onPath.has(q)) {
        onLoop(q);
        break;
      }
      onPath.add(q);
      path.push(q);
      q = parent.get(q);
    }
    for (let i = path.length - 1; i >= 0; i--) depth.set(path[i], ++base);
  }
  return depth;
}
