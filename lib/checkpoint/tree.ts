// A process tree from /proc/PID/task/*/children (every thread's children), root first,
// breadth-first. Processes that vanish during the walk are left out; the root must exist.
import { promises as fs } from 'fs';
import { ProcessGoneError } from './errors';

async function childrenOf(pid: number): Promise<number[]> {
  let tids: string[];
  try {
    tids = await fs.readdir(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    try {
      const text = await fs.readFile(`/proc/${pid}/task/${tid}/children`, 'utf8');
      for (const s of text.split(' ')) if (s.trim() !== '') out.push(Number(s));
    } catch {
      // thread exited meanwhile
    }
  }
  return out;
}

/** [root, ...descendants], each with its parent (the root's parent: undefined). */
export async function processTree(root: number): Promise<{ pid: number; parent?: number }[]> {
  try {
    await fs.access(`/proc/${root}/task`);
  } catch {
    throw new ProcessGoneError(`process ${root}: no such process`, 'ESRCH', root, 'open /proc/PID/task');
  }
  const out: { pid: number; parent?: number }[] = [{ pid: root }];
  const seen = new Set([root]);
  for (let i = 0; i < out.length; i++) {
    for (const c of await childrenOf(out[i].pid)) {
      if (seen.has(c)) continue;
      seen.add(c);
      out.push({ pid: c, parent: out[i].pid });
    }
  }
  return out;
}
