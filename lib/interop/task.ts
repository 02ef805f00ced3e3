// What the exporters share: the task chosen, and the checks every target makes of its cred.
import type { Image } from '../format/types';
import { sameCred } from '../model/creds';
import { securebitNames } from '../model/capabilities';
import { mapUp } from '../model/idmap';
import type { Cred, IdMapExtent, TaskCreds, UserNamespace } from '../model/types';
import { InteropError, type InteropNote, type TaskChoice } from './types';

export function selectTask(image: Image, choice: TaskChoice = {}): { index: number; task: TaskCreds } {
  if (image.tasks.length === 0) throw new InteropError('the image holds no task');
  if (choice.task !== undefined && choice.pid !== undefined) throw new InteropError('choose the task by index or by pid, not both');
  if (choice.pid !== undefined) {
    const index = image.tasks.findIndex((t) => t.pids.vpid === choice.pid);
    if (index < 0) throw new InteropError(`the image has no task with pid ${choice.pid}`);
    return { index, task: image.tasks[index] };
  }
  const index = choice.task ?? 0;
  if (!Number.isInteger(index) || index < 0 || index >= image.tasks.length)
    throw new InteropError(`task ${index}: the image has ${image.tasks.length} task(s)`);
  return { index, task: image.tasks[index] };
}

/** Collects what a target cannot express. */
export class Notes {
  readonly list: InteropNote[] = [];
  add(what: string, detail: string): void {
    this.list.push({ what, detail });
  }
}

/** The effective cred apart from the real one (an override) is lost by every target. */
export function checkEcred(t: TaskCreds, notes: Notes): void {
  if (t.ecred !== t.cred && !sameCred(t.ecred, t.cred))
    notes.add('ecred', 'the effective (subjective) cred differs from the real one: only the real cred is exported');
}

/**
 * Ids: targets state one uid and one gid (or, `apart`, a real and an effective one); execve
 * sets the saved and fs ids to the effective ones, so other values are lost.
 */
export function checkIds(c: Cred, notes: Notes, apart = false): void {
  if (!apart && c.euid !== c.uid) notes.add('ids-effective', `effective uid ${c.euid} differs from the real uid ${c.uid}: only ${c.uid} is stated`);
  if (!apart && c.egid !== c.gid) notes.add('ids-effective', `effective gid ${c.egid} differs from the real gid ${c.gid}: only ${c.gid} is stated`);
  const euid = apart ? c.euid : c.uid;
  const egid = apart ? c.egid : c.gid;
  if (c.suid !== euid || c.fsuid !== euid) notes.add('ids-saved-fs', `saved uid ${c.suid} / fs uid ${c.fsuid} are not ${euid}: they become ${euid}`);
  if (c.sgid !== egid || c.fsgid !== egid) notes.add('ids-saved-fs', `saved gid ${c.sgid} / fs gid ${c.fsgid} are not ${egid}: they become ${egid}`);
}

/** Securebits: `settable` is the mask the target can set; the rest (and unknown) is lost. */
export function checkSecurebits(c: Cred, settable: number, target: string, notes: Notes): void {
  if (c.securebits === null) {
    notes.add('securebits-unknown', 'the securebits were not read at checkpoint: none are stated');
    return;
  }
  const lost = c.securebits & ~settable;
  if (lost !== 0) notes.add('securebits', `${target} cannot set ${securebitNames(lost).join(', ')}`);
}

/** The namespaces between the image's root namespace and the cred's, outermost first. */
export function namespaceLevels(c: Cred): UserNamespace[] {
  const out: UserNamespace[] = [];
  const seen = new Set<UserNamespace>();
  for (let ns = c.user.ns; ns.creator !== null && !seen.has(ns); ns = ns.creator.ns) {
    seen.add(ns);
    out.push(ns);
  }
  return out.reverse();
}

export function describeMap(map: UserNamespace['uidMap']): string {
  return map === undefined ? 'not recorded' : map.map((e) => `${e.inside} ${e.outside} ${e.count}`).join(', ') || 'empty';
}

function mapped(map: readonly IdMapExtent[] | undefined, id: number): boolean {
  return mapUp(map, id) >= 0;
}

/** Ids and groups that the namespace's maps leave unmapped: the kernel would refuse them. */
export function checkMapped(c: Cred, uidMap: readonly IdMapExtent[] | undefined, gidMap: readonly IdMapExtent[] | undefined, notes: Notes): void {
  if (uidMap !== undefined && !mapped(uidMap, c.uid)) notes.add('ids-unmapped', `uid ${c.uid} is not mapped by the namespace's uid_map`);
  if (gidMap !== undefined && !mapped(gidMap, c.gid)) notes.add('ids-unmapped', `gid ${c.gid} is not mapped by the namespace's gid_map`);
  const unmapped = gidMap === undefined ? [] : c.groups.gids.filter((g) => !mapped(gidMap, g));
  if (unmapped.length > 0) notes.add('groups-unmapped', `groups ${unmapped.join(', ')} are not mapped by the namespace's gid_map`);
}
