// sys_restart as the seed runs it for creds: each task's creds rebuilt as restore_cred /
// restore_user / restore_userns / restore_groupinfo / restore_task_creds / restore_creds do. Each
// cred starts as a copy of the restarter's cred and every change is authorized against the
// restarter's cred as it was when restart began, never against the half-built one. Objects are
// restored once (the objhash, restore-context.ts), in the image's order; on any refusal nothing
// built survives. The objects' own rules: restore-userns.ts, restore-groups.ts, restore-cred.ts.
import type { Image } from '../format/types';
import type { Cred, TaskCreds } from '../model/types';
import type { Kernel } from './kernel';
import type { ObjectTable } from './objects';
import { restoreCred } from './restore-cred';
import { RestoreContext, type SysRestarter } from './restore-context';
import { type Step, allow, refuse } from './step';

export type { SysRestarter } from './restore-context';

export type TaskOutcome =
  | { ok: true; cred: Cred; ecred: Cred; noNewPrivs: boolean }
  | { ok: false; errno: string; refused: Step[] };

export interface RestartOutcome {
  ok: boolean;
  tasks: TaskOutcome[];
  steps: Step[];
}

/** What restart() produced before the caller decides to keep it (tasks) or drop it. */
export interface RestartWork {
  outcome: RestartOutcome;
  /** References the objhash holds; the caller drops them at the end, as the seed does. */
  release(): void;
}

export function sysRestart(kernel: Kernel, objects: ObjectTable, image: Image, restarter: SysRestarter): RestartWork {
  const cx = new RestoreContext(kernel, objects, restarter);
  const shared = sharedOutcomes();
  // Sized once: an array grown push by push holds its old and new backing store at each growth.
  const tasks: TaskOutcome[] = new Array<TaskOutcome>(image.tasks.length);
  image.tasks.forEach((t, i) => {
    cx.taskNo = i;
    tasks[i] = restoreTask(cx, t, shared);
  });
  let released = false;
  return {
    outcome: { ok: tasks.every((t) => t.ok), tasks, steps: cx.steps },
    release() {
      if (released) return;
      released = true;
      for (let i = cx.holds.length - 1; i >= 0; i--) cx.holds[i]();
    },
  };
}

/** restore_task_creds / restore_creds: one task's real and effective creds and no_new_privs. */
function restoreTask(cx: RestoreContext, t: TaskCreds, shared: ReturnType<typeof sharedOutcomes>): TaskOutcome {
  const { p, restarter, steps, push } = cx;
  const before = steps.length;
  const rc = restoreCred(cx, t.cred);
  const ec = t.ecred === t.cred ? rc : restoreCred(cx, t.ecred);
  let nnp = false;
  let nnpErr: string | undefined;
  if (p.noNewPrivs) {
    nnp = t.noNewPrivs || restarter.noNewPrivs;
    if (restarter.noNewPrivs && !t.noNewPrivs) {
      const s = push(refuse('restore no_new_privs', 'no-new-privs.sticky', 'EPERM',
        'the task had no_new_privs clear, but the restarter has it set and it cannot be cleared'));
      nnpErr = s.errno;
    }
  } else if (t.noNewPrivs) {
    push(allow('restore no_new_privs', 'seed.no-nnp', 'no_new_privs not restored: this kernel has none'));
  }
  if (rc.ok && ec.ok && !nnpErr) {
    if (ec.v !== rc.v) push(allow('restore_creds', 'creds.override', 'the effective cred differs from the real one: committed real, then put the effective on top'));
    return shared(rc.v, ec.v, nnp);
  }
  // Steps of shared objects restored by an earlier task count as this task's too.
  const mine = steps.slice(before).filter((s) => !s.allowed);
  const errno = !rc.ok ? rc.errno : !ec.ok ? ec.errno : nnpErr!;
  const refused = mine.length ? mine : steps.filter((s) => !s.allowed && s.errno === errno).slice(0, 1);
  return { ok: false, errno, refused };
}

/**
 * Tasks restored to the same objects share one (read-only) outcome: a million tasks of one cred
 * cost one outcome, not a million.
 */
function sharedOutcomes(): (cred: Cred, ecred: Cred, noNewPrivs: boolean) => TaskOutcome {
  const outcomes = new Map<Cred, Map<Cred, TaskOutcome[]>>();
  return (cred, ecred, noNewPrivs) => {
    let byE = outcomes.get(cred);
    if (!byE) outcomes.set(cred, (byE = new Map()));
    let pair = byE.get(ecred);
    if (!pair) byE.set(ecred, (pair = []));
    const k = noNewPrivs ? 1 : 0;
    return (pair[k] ??= { ok: true, cred, ecred, noNewPrivs });
  };
}
