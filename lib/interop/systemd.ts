// systemd unit settings (systemd.exec(5)): a drop-in [Service] section with a task's identity,
// and an image from a unit's settings.
import type { Image } from '../format/types';
import { CAP, capBit } from '../model/capabilities';
import { SECBIT, type IdMapExtent } from '../model/types';
import { ALL_KNOWN_CAPS, capFromName, capsToNames, unnamedCaps } from './caps';
import { identityImage, type ImportedIdentity } from './imported';
import { Notes, checkEcred, checkIds, checkMapped, checkSecurebits, describeMap, namespaceLevels, selectTask } from './task';
import { InteropError, type Exported, type Imported, type InteropNote, type TaskChoice } from './types';

/** SecureBits= words (systemd.exec(5)) and their bits. */
export const SYSTEMD_SECUREBITS: Readonly<Record<string, number>> = {
  'keep-caps': SECBIT.KEEP_CAPS,
  'keep-caps-locked': SECBIT.KEEP_CAPS_LOCKED,
  'no-setuid-fixup': SECBIT.NO_SETUID_FIXUP,
  'no-setuid-fixup-locked': SECBIT.NO_SETUID_FIXUP_LOCKED,
  noroot: SECBIT.NOROOT,
  'noroot-locked': SECBIT.NOROOT_LOCKED,
};
const SETTABLE = Object.values(SYSTEMD_SECUREBITS).reduce((a, b) => a | b, 0);

/** Settings in the order written; each value as it appears after `=`. */
export type SystemdSettings = [key: string, value: string][];

/** PrivateUsers=yes: 0 and the service's own id map to themselves, one id each. */
function privateUsersMap(id: number): IdMapExtent[] {
  return id === 0 ? [{ inside: 0, outside: 0, count: 1 }] : [{ inside: 0, outside: 0, count: 1 }, { inside: id, outside: id, count: 1 }];
}

const sameMap = (a: readonly IdMapExtent[] | undefined, b: readonly IdMapExtent[]) =>
  a !== undefined && a.length === b.length && a.every((e, i) => e.inside === b[i].inside && e.outside === b[i].outside && e.count === b[i].count);

export function toSystemd(image: Image, choice: TaskChoice = {}): Exported<SystemdSettings> {
  const { index, task } = selectTask(image, choice);
  const c = task.cred;
  const notes = new Notes();
  checkEcred(task, notes);
  checkIds(c, notes);
  checkSecurebits(c, SETTABLE, 'systemd', notes);
  for (const s of ['bounding', 'ambient', 'inheritable'] as const)
    if (unnamedCaps(c.caps[s]) !== 0n) notes.add('caps-unnamed', `${s} capabilities 0x${unnamedCaps(c.caps[s]).toString(16)} have no name`);
  if (c.caps.inheritable !== c.caps.ambient)
    notes.add('caps-inheritable', 'systemd makes the inheritable set the ambient set: other inheritable capabilities are lost');
  const s: SystemdSettings = [
    ['User', String(c.uid)],
    ['Group', String(c.gid)],
  ];
  if (c.groups.gids.length > 0) s.push(['SupplementaryGroups', c.groups.gids.join(' ')]);
  s.push(['CapabilityBoundingSet', capsToNames(c.caps.bounding).join(' ')]);
  s.push(['AmbientCapabilities', capsToNames(c.caps.ambient).join(' ')]);
  const bits = (c.securebits ?? 0) & SETTABLE;
  if (bits !== 0) s.push(['SecureBits', Object.keys(SYSTEMD_SECUREBITS).filter((k) => bits & SYSTEMD_SECUREBITS[k]).join(' ')]);
  s.push(['NoNewPrivileges', task.noNewPrivs ? 'yes' : 'no']);
  const levels = namespaceLevels(c);
  if (levels.length > 0) {
    const ns = levels[0];
    if (levels.length > 1) notes.add('userns-nested', `the task is ${levels.length} user namespaces deep: PrivateUsers= makes one`);
    if (!sameMap(ns.uidMap, privateUsersMap(c.uid)) || !sameMap(ns.gidMap, privateUsersMap(c.gid)))
      notes.add('userns-maps', `PrivateUsers=yes maps 0 and the service's own ids to themselves; the task's maps are uid_map ${describeMap(ns.uidMap)}, gid_map ${describeMap(ns.gidMap)}`);
    if (ns.creator && ns.creator.uid !== 0) notes.add('userns-creator', `the namespace was created by uid ${ns.creator.uid}; systemd creates it as root`);
    checkMapped(c, privateUsersMap(c.uid), privateUsersMap(c.gid), notes);
    s.push(['PrivateUsers', 'yes']);
  }
  const text = ['# cr-creds export --to systemd: a drop-in (e.g. /etc/systemd/system/UNIT.service.d/creds.conf)', '[Service]', ...s.map(([k, v]) => `${k}=${v}`)].join('\n') + '\n';
  return { task: index, value: s, text, unexpressed: notes.list };
}

/** [Service] assignments of a unit file or drop-in, in order (comments, continuations handled). */
export function parseUnitSettings(text: string): SystemdSettings {
  const out: SystemdSettings = [];
  let section = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i];
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) continue;
    const sec = /^\[([^\]]+)\]$/.exec(t);
    if (sec) {
      section = sec[1];
      continue;
    }
    const eq = t.indexOf('=');
    if (eq <= 0) throw new InteropError(`line ${i + 1}: not a setting: ${t}`);
    if (section === '') throw new InteropError(`line ${i + 1}: a setting before any [Section]`);
    if (section === 'Service') out.push([t.slice(0, eq).trim(), t.slice(eq + 1).trim()]);
  }
  return out;
}

function bool(v: string, key: string): boolean {
  const l = v.toLowerCase();
  if (['yes', 'true', 'on', '1'].includes(l)) return true;
  if (['no', 'false', 'off', '0'].includes(l)) return false;
  throw new InteropError(`${key}=${v}: not a boolean`);
}

function numericId(v: string, key: string): number {
  if (v === 'root') return 0;
  if (!/^\d+$/.test(v) || Number(v) > 0xfffffffe) throw new InteropError(`${key}=${v}: only numeric ids (or root) are read: the image needs the number`);
  return Number(v);
}

/** Settings that imply NoNewPrivileges=yes for a service without CAP_SYS_ADMIN (systemd.exec(5)). */
const IMPLY_NNP = [
  'SystemCallFilter', 'SystemCallArchitectures', 'RestrictAddressFamilies', 'RestrictNamespaces', 'PrivateDevices',
  'ProtectKernelTunables', 'ProtectKernelModules', 'ProtectKernelLogs', 'ProtectClock', 'MemoryDenyWriteExecute',
  'RestrictRealtime', 'RestrictSUIDSGID', 'LockPersonality',
];

/** A capability list setting: items, `~` inverts, an empty assignment resets. */
function capList(prev: bigint | undefined, v: string, key: string): bigint {
  if (v === '') return 0n;
  const invert = v.startsWith('~');
  let set = 0n;
  for (const w of (invert ? v.slice(1) : v).split(/\s+/).filter(Boolean)) set |= capBit(capFromName(w, key));
  return invert ? (prev ?? ALL_KNOWN_CAPS) & ~set : (prev ?? 0n) | set;
}

/** An image from a unit file or drop-in's [Service] settings (text). */
export function fromSystemd(text: string): Imported {
  const settings = parseUnitSettings(text);
  const assumed: InteropNote[] = [];
  const ignored: InteropNote[] = [];
  let uid: number | undefined;
  let gid: number | undefined;
  let groups: number[] = [];
  let bounding: bigint | undefined;
  let ambient = 0n;
  let securebits = 0;
  let nnp: boolean | undefined;
  let privateUsers = false;
  const implying: string[] = [];
  for (const [k, v] of settings) {
    switch (k) {
      case 'User':
        uid = v === '' ? undefined : numericId(v, k);
        break;
      case 'Group':
        gid = v === '' ? undefined : numericId(v, k);
        break;
      case 'SupplementaryGroups':
        groups = v === '' ? [] : [...groups, ...v.split(/\s+/).filter(Boolean).map((g) => numericId(g, k))];
        break;
      case 'CapabilityBoundingSet':
        bounding = capList(bounding, v, k);
        break;
      case 'AmbientCapabilities':
        ambient = v === '' ? 0n : v.startsWith('~') ? capList(ALL_KNOWN_CAPS, v, k) & ambient : capList(ambient, v, k);
        break;
      case 'SecureBits':
        if (v === '') securebits = 0;
        for (const w of v.split(/\s+/).filter(Boolean)) {
          const bit = SYSTEMD_SECUREBITS[w];
          if (bit === undefined) throw new InteropError(`SecureBits=${v}: unknown word '${w}'`);
          securebits |= bit;
        }
        break;
      case 'NoNewPrivileges':
        nnp = bool(v, k);
        break;
      case 'PrivateUsers':
        privateUsers = bool(v, k);
        break;
      case 'DynamicUser':
        if (bool(v, k)) ignored.push({ what: 'dynamic-user', detail: 'DynamicUser=yes: systemd picks the ids at start; User=/Group= are taken as given' });
        break;
      default:
        if (IMPLY_NNP.includes(k) && v !== '' && !/^(no|false|off|0)$/i.test(v)) implying.push(k);
    }
  }
  if (uid === undefined) assumed.push({ what: 'uid', detail: 'User= not given: root (0)' });
  if (gid === undefined) assumed.push({ what: 'gid', detail: "Group= not given: the user's primary group from the user database; assumed 0" });
  if (groups.length > 0 || uid !== undefined) assumed.push({ what: 'groups-database', detail: 'systemd also adds the groups the user database gives User=: the image has only SupplementaryGroups=' });
  if (bounding === undefined) assumed.push({ what: 'bounding', detail: 'CapabilityBoundingSet= not given: every capability' });
  const u = uid ?? 0;
  const B = bounding ?? ALL_KNOWN_CAPS;
  const A = ambient & B;
  if (nnp === undefined && implying.length > 0 && (u !== 0 || !(B & capBit(CAP.SYS_ADMIN)))) {
    nnp = true;
    assumed.push({ what: 'no-new-privs-implied', detail: `${implying.join(', ')} imply NoNewPrivileges=yes for a service without CAP_SYS_ADMIN` });
  }
  const id: ImportedIdentity = {
    uid: u,
    gid: gid ?? 0,
    groups: [...new Set(groups)].sort((a, b) => a - b),
    // What systemd sets before it execs: root keeps the bounding set, others the ambient set.
    caps: { bounding: B, ambient: A, inheritable: A, permitted: u === 0 ? B : A, effective: u === 0 ? B : A },
    securebits,
    noNewPrivs: nnp ?? false,
  };
  if (privateUsers) {
    id.userns = { creatorUid: 0, uidMap: privateUsersMap(id.uid), gidMap: privateUsersMap(id.gid) };
    assumed.push({ what: 'userns-maps', detail: 'PrivateUsers=yes: 0 and the service ids mapped to themselves' });
  }
  return { image: identityImage(id), assumed, ignored };
}
