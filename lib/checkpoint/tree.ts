// A process tree from /proc/PID/task/*/children (every thread's children), root first,
// breadth-first. Processes that vanish during the walk are left out; the root must exist.
import { native } from '../native/binding';
import { ProcessGoneError } from './errors';

/** A process of the tree. */
export interface TreeProcess {
  pid: number;
  /** Its parent's pid (the root's: undefined). */
  parent?: number;
  /** It has exited and its parent has not reaped it (it has no children: they went to a reaper). */
  zombie?: true;
}

/** The children of each pid, in one call into the addon: null for a process that is gone. */
async function childrenOf(pids: number[]): Promise<(number[] | 'zombie' | null)[]> {
  const flat = await native().readChildren(pids);
  const out: (number[] | 'zombie' | null)[] = [];
  for (let k = 0; k < flat.length; ) {
    const n = flat[k++];
    out.push(n === -2 ? 'zombie' : n < 0 ? null : Array.from(flat.subarray(k, k + n)));
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
    if (i === 0 && children[0] === null)
      throw new ProcessGoneError(`process ${root}: no such process`, 'ESRCH', root, 'open /proc/PID/task');
    level.forEach((parent, k) => {
      const found = children[k];
      if (found === 'zombie') {
        out[i + k].zombie = true;
        return;
      }
      for (const c of found ?? []) {
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
