// A process tree from /proc/PID/task/*/children (every thread's children), root first,
// breadth-first. Processes that vanish during the walk are left out; the root must exist.
import { native } from '../native/binding';
import { ProcessGoneError } from './errors';

/** A process of the tree. */
export interface TreeProcess {
  pid: number;
  /** Its parent's pid (the root's: undefined). */
  parent?: number;
  /**
   * Its leader is a zombie: it has exited and its parent has not reaped it, or its main thread
   * has exited while other threads live on (they keep its children, which the walk still finds).
   */
  zombie?: true;
}

/** What the walk learns of a process: its children (null: it is gone), and whether it is a zombie. */
interface Found {
  children: number[] | null;
  zombie: boolean;
}

/** The children of each pid, in one call into the addon. */
async function childrenOf(pids: number[]): Promise<Found[]> {
  const flat = await native().readChildren(pids);
  const out: Found[] = [];
  for (let k = 0; k < flat.length; ) {
    const zombie = flat[k] === -2;
    if (zombie) k++;
    const n = flat[k++];
    out.push({ children: n < 0 ? null : Array.from(flat.subarray(k, k + n)), zombie });
    k += Math.max(n, 0);
  }
  return out;
}

/**
 * [root, ...descendants], each with its parent (the root's parent: undefined). `onFound` hears
 * the count of processes found so far as the walk goes on.
 */
export async function processTree(root: number, onFound?: (found: number) => void): Promise<TreeProcess[]> {
  const out: TreeProcess[] = [{ pid: root }];
  const seen = new Set([root]);
  // A whole level of the tree at a time (the same order as one process at a time).
  for (let i = 0; i < out.length; ) {
    const level = out.slice(i).map((e) => e.pid);
    const children = await childrenOf(level);
    if (i === 0 && children[0].children === null)
      throw new ProcessGoneError(`process ${root}: no such process`, 'ESRCH', root, 'open /proc/PID/task');
    level.forEach((parent, k) => {
      if (children[k].zombie) out[i + k].zombie = true;
      for (const c of children[k].children ?? []) {
        if (seen.has(c)) continue;
        seen.add(c);
        out.push({ pid: c, parent });
      }
    });
    i += level.length;
    onFound?.(out.length);
  }
  return out;
}
