// bubblewrap (bwrap): a command prefix that starts a program with a task's identity. bwrap
// keeps the host's filesystem (--dev-bind / /), changes ids only inside a new user namespace,
// gives one capability set to inheritable, permitted, effective and ambient alike (and, in its
// user namespace, to the bounding set; outside one the caller's bounding set stays), leaves
// supplementary groups as its caller has them, and always sets no_new_privs.
import type { Image } from '../format/types';
import type { CapSet } from '../model/types';
import { ALL_KNOWN_CAPS, capsToNames, unnamedCaps } from './caps';
import { shellLine } from './shell';
import { Notes, checkEcred, checkIds, checkSecurebits, describeMap, namespaceLevels, selectTask } from './task';
import type { Exported, TaskChoice } from './types';

export interface BwrapOptions extends TaskChoice {
  /** The bounding set of whoever runs the command (bwrap keeps it). Default: every known capability. */
  callerBounding?: CapSet;
  /** The uid and gid of whoever runs it (what bwrap's namespace maps to). Default 0. */
  callerUid?: number;
  callerGid?: number;
}

export function toBwrap(image: Image, opts: BwrapOptions = {}): Exported<string[]> {
  const { index, task } = selectTask(image, opts);
  const c = task.cred;
  const notes = new Notes();
  checkEcred(task, notes);
  checkIds(c, notes);
  checkSecurebits(c, 0, 'bwrap', notes);
  const callerUid = opts.callerUid ?? 0;
  const callerGid = opts.callerGid ?? 0;
  const callerBounding = opts.callerBounding ?? ALL_KNOWN_CAPS;
  // Root with no inheritable or ambient capabilities: bwrap without capability options keeps
  // the caller's permitted and effective sets. Otherwise one set is given to all four.
  const keep = c.uid === 0 && c.caps.inheritable === 0n && c.caps.ambient === 0n;
  const caps = c.caps.ambient;
  if (keep) {
    if (c.caps.permitted !== callerBounding || c.caps.effective !== callerBounding)
      notes.add('caps', `bwrap keeps its caller's capabilities (0x${callerBounding.toString(16)}) for root`);
  } else {
    if (c.caps.inheritable !== caps) notes.add('caps-inheritable', 'bwrap gives the inheritable set the ambient set');
    if (c.caps.permitted !== caps || c.caps.effective !== caps) notes.add('caps', 'bwrap gives the permitted and effective sets the ambient set');
    if (unnamedCaps(caps) !== 0n) notes.add('caps-unnamed', `capabilities 0x${unnamedCaps(caps).toString(16)} have no name`);
  }
  const levels = namespaceLevels(c);
  const inUserns = levels.length > 0 || c.uid !== callerUid || c.gid !== callerGid;
  const bounding = inUserns && !keep ? caps : callerBounding;
  if (c.caps.bounding !== bounding)
    notes.add('caps-bounding', `bwrap gives the program the bounding set 0x${bounding.toString(16)} (${inUserns && !keep ? 'its capabilities, in its user namespace' : "its caller's"}), not 0x${c.caps.bounding.toString(16)}`);
  if (c.groups.gids.length > 0) notes.add('groups', `bwrap cannot set supplementary groups (${c.groups.gids.join(', ')}): the program keeps its caller's`);
  if (!task.noNewPrivs) notes.add('no-new-privs', 'bwrap always sets no_new_privs');
  const argv = ['bwrap', '--dev-bind', '/', '/'];
  const oneToOne = (m: typeof c.user.ns.uidMap, id: number, outside: number) =>
    m !== undefined && m.length === 1 && m[0].inside === id && m[0].outside === outside && m[0].count === 1;
  if (levels.length > 0) {
    const ns = levels[0];
    if (levels.length > 1) notes.add('userns-nested', `the task is ${levels.length} user namespaces deep: bwrap makes one`);
    if (!oneToOne(ns.uidMap, c.uid, callerUid) || !oneToOne(ns.gidMap, c.gid, callerGid))
      notes.add('userns-maps', `bwrap maps only uid ${c.uid} to ${callerUid} and gid ${c.gid} to ${callerGid}; the task's maps are uid_map ${describeMap(ns.uidMap)}, gid_map ${describeMap(ns.gidMap)}`);
    if (ns.creator && ns.creator.uid !== callerUid) notes.add('userns-creator', `the namespace was created by uid ${ns.creator.uid}; bwrap creates it as its caller`);
    if (ns.setgroups !== 'deny') notes.add('userns-setgroups', 'bwrap writes deny to setgroups');
    argv.push('--unshare-user', '--uid', String(c.uid), '--gid', String(c.gid));
  } else if (c.uid !== callerUid || c.gid !== callerGid) {
    notes.add('userns-added', `bwrap changes ids only in a new user namespace: the program runs in one, mapping ${c.uid} to ${callerUid}`);
    argv.push('--unshare-user', '--uid', String(c.uid), '--gid', String(c.gid));
  }
  if (!keep) {
    argv.push('--cap-drop', 'ALL');
    for (const n of capsToNames(caps)) argv.push('--cap-add', n);
  }
  argv.push('--');
  return { task: index, value: argv, text: shellLine(argv) + '\n', unexpressed: notes.list };
}
