// Extension records: today's credential state that the seed's format cannot hold.
//
// Numbering: the series gave each subsystem a block of a hundred (1-8 core, 101-118 task,
// 201-299 arch, 301 files, 401 mm, 451 fs, 501 ipc, 601 signals, 701 sockets) and ended at
// 9001 TAIL and 9999 ERROR. 8001-8099 was never used by any version of the series, so our
// records can never collide with a real linux-cr record, and a series reader skips them by len
// as unknown types. They are written only when they carry information (a plain image stays
// byte-for-byte a series image) and never with `compat: 'linux-cr'`.
//
// Each one follows right after the record it extends, and names it by objref (CRED, USER_NS)
// or by position (TASK_EXT after its TASK_CREDS), so a reader never has to look ahead.
import type { Cred, IdMapExtent, TaskCreds, UserNamespace } from '../model/types';
import { MAX_ID_EXTENTS, RecordType, SEED_SECUREBITS_MASK } from './constants';

export const CRED_EXT_LEN = 32;
export const TASK_EXT_LEN = 16;
/** USERNS_EXT before its extents. */
export const USERNS_EXT_BASE = 32;
export const EXTENT_SIZE = 12;

/** CRED_EXT flags. */
export const CredExtFlag = { SECUREBITS_UNKNOWN: 1 } as const;
export const CRED_EXT_FLAGS = 0x1;

/**
 * USERNS_EXT flags. Bits 0-2 as the issue specifies; bits 3-4 are ours, so that an empty map
 * ("not written yet", a real state) differs from a map we do not know.
 */
export const UsernsExtFlag = {
  SETGROUPS_KNOWN: 1 << 0,
  SETGROUPS_DENY: 1 << 1,
  INODE_KNOWN: 1 << 2,
  UID_MAP_KNOWN: 1 << 3,
  GID_MAP_KNOWN: 1 << 4,
} as const;
export const USERNS_EXT_FLAGS = 0x1f;

/** TASK_EXT flags. */
export const TaskExtFlag = { NO_NEW_PRIVS: 1 } as const;
export const TASK_EXT_FLAGS = 0x1;

export const EXTENSION_TYPES: readonly number[] = [
  RecordType.CRED_EXT,
  RecordType.USERNS_EXT,
  RecordType.TASK_EXT,
  RecordType.UNMAPPED_EXT,
];

/** What of a cred only CRED_EXT can carry; [] when the seed's CRED says it all. */
export function credExtReasons(cred: Cred): string[] {
  const why: string[] = [];
  if (cred.caps.ambient !== 0n) why.push('ambient capabilities');
  if (cred.securebits === null) why.push('unknown securebits');
  else if ((cred.securebits & ~SEED_SECUREBITS_MASK) !== 0)
    why.push(`securebits above bit 5 (0x${cred.securebits.toString(16)})`);
  return why;
}

/** What of a namespace only USERNS_EXT can carry. */
export function usernsExtReasons(ns: UserNamespace): string[] {
  const why: string[] = [];
  if (ns.uidMap !== undefined) why.push('uid_map');
  if (ns.gidMap !== undefined) why.push('gid_map');
  if (ns.setgroups !== undefined) why.push('setgroups');
  if (ns.inode !== undefined) why.push('inode');
  return why;
}

export function taskExtReasons(task: TaskCreds): string[] {
  return task.noNewPrivs ? ['no_new_privs'] : [];
}

export function usernsExtLen(nUid: number, nGid: number): number {
  return (USERNS_EXT_BASE + EXTENT_SIZE * (nUid + nGid) + 7) & ~7;
}

/** Reads n extents starting at `at`. */
export function readExtents(view: DataView, at: number, n: number, le: boolean): IdMapExtent[] {
  const out: IdMapExtent[] = new Array(n);
  for (let i = 0; i < n; i++, at += EXTENT_SIZE) {
    out[i] = {
      inside: view.getUint32(at, le),
      outside: view.getUint32(at + 4, le),
      count: view.getUint32(at + 8, le),
    };
  }
  return out;
}

export function writeExtents(
  view: DataView,
  at: number,
  extents: readonly IdMapExtent[],
  le: boolean,
): number {
  for (const e of extents) {
    view.setUint32(at, e.inside, le);
    view.setUint32(at + 4, e.outside, le);
    view.setUint32(at + 8, e.count, le);
    at += EXTENT_SIZE;
  }
  return at;
}

export { MAX_ID_EXTENTS };
