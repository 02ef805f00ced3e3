// The opt-in partial restart of a sandboxed restarter: a caller whose bounding set lacks
// capabilities the image holds (a container's root, or this kind of host's root without
// CAP_SYS_RESOURCE) can never give them to a process it starts. By default such a restart is
// refused; with allowPartial the target is cut down to what the caller can give, and every field
// cut is listed with the reason, in the plan report, on the handle, and by the CLI on stderr.
import { capNames, fullCapSet, type Cred, type TaskCreds } from '../model';
import { unmappedIds, withUnmapped } from '../model/unmapped';
import type { ThreadCreds } from '../native/binding';

/** One field of the image a partial restart leaves out. */
export interface Unrestored {
  /** 'bounding', 'permitted', 'effective', 'inheritable', 'ambient' or 'no_new_privs'. */
  field: string;
  /** What of it is left out: capability names, or the value. */
  missing: string[];
  reason: string;
}

const REASONS: Record<string, string> = {
  bounding: "the caller's bounding set lacks them, and no call can add a bit back to a bounding set",
  permitted: "the caller's bounding set lacks them, so no process it starts can hold them (capset cannot raise the permitted set)",
  effective: 'the effective set stays within the permitted set, which cannot hold them',
  inheritable: 'capset raises the inheritable set only within the bounding set, which lacks them',
  ambient: 'an ambient capability must be permitted and inheritable, which these cannot be',
};

/**
 * The task as the caller can restore it, and what is left out ([] when nothing: the task comes
 * back unchanged). Only the task's own level is cut: a task in a user namespace below the
 * caller's gets a full bounding set from the unshare.
 */
export function partialTarget(task: TaskCreds, r: ThreadCreds, capLastCap: number): { task: TaskCreds; unrestored: Unrestored[] } {
  const unrestored: Unrestored[] = [];
  let cred = task.cred;
  if (!cred.user.ns.creator) {
    const c = cred.caps;
    const lacking = fullCapSet(capLastCap) & ~r.caps.bounding & (c.bounding | c.permitted | c.effective | c.inheritable | c.ambient);
    if (lacking !== 0n) {
      const caps = { ...c };
      for (const k of ['bounding', 'permitted', 'effective', 'inheritable', 'ambient'] as const) {
        const cut = c[k] & lacking;
        if (cut === 0n) continue;
        caps[k] = c[k] & ~lacking;
        unrestored.push({ field: k, missing: capNames(cut), reason: REASONS[k] });
      }
      cred = withUnmapped({ ...cred, caps } as Cred, unmappedIds(task.cred));
    }
  }
  let noNewPrivs = task.noNewPrivs;
  if (r.noNewPrivs && !noNewPrivs) {
    noNewPrivs = true;
    unrestored.push({ field: 'no_new_privs', missing: ['clear'], reason: 'the caller has no_new_privs set, and it cannot be cleared' });
  }
  if (unrestored.length === 0) return { task, unrestored };
  const ecred = task.ecred === task.cred ? cred : task.ecred;
  return { task: { ...task, cred, ecred, noNewPrivs }, unrestored };
}

/** "bounding without CAP_SYS_RESOURCE: the caller's bounding set lacks them, ..." */
export function unrestoredText(u: Unrestored): string {
  return `${u.field} ${u.field === 'no_new_privs' ? 'stays set' : `without ${u.missing.join(', ')}`}: ${u.reason}`;
}
