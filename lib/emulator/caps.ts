// Capability-set helpers the syscall rules share.
import { CAP, capNames } from '../model/capabilities';
import type { Capabilities, Cred } from '../model/types';
import { SECBIT } from '../model/types';
import { unmappedIds, withUnmapped } from '../model/unmapped';

export const CAP_SETGID = CAP.SETGID;
export const CAP_SETUID = CAP.SETUID;
export const CAP_SETPCAP = CAP.SETPCAP;
export const CAP_SYS_ADMIN = CAP.SYS_ADMIN;
export const CAP_SETFCAP = CAP.SETFCAP;

/** CAP_FS_SET: what a change of fsuid to or from 0 drops or raises in the effective set. */
export const CAP_FS_SET =
  (1n << 0n) | (1n << 1n) | (1n << 2n) | (1n << 3n) | (1n << 4n) | (1n << 9n) | (1n << 27n) | (1n << 32n);

export function subset(a: bigint, b: bigint): boolean {
  return (a & ~b) === 0n;
}

export function bits(c: Cred): number {
  return c.securebits ?? 0;
}

export function issecure(c: Cred, bit: number): boolean {
  return (bits(c) & bit) !== 0;
}

export function withCaps(c: Cred, caps: Capabilities): Cred {
  const n = clone(c);
  n.caps = caps;
  return n;
}

/**
 * A copy of a cred with its fields always in one order (one hidden class: the hot path), and the
 * kernel ids of its unmapped ids (lib/model/unmapped.ts unmappedIds): a rule that changes an id field of the
 * copy must set the copy's entry again (moveUnmapped).
 */
export function clone(c: Cred): Cred {
  const n: Cred = {
    uid: c.uid, euid: c.euid, suid: c.suid, fsuid: c.fsuid,
    gid: c.gid, egid: c.egid, sgid: c.sgid, fsgid: c.fsgid,
    groups: c.groups, user: c.user, caps: c.caps, securebits: c.securebits,
  };
  if (c.secRef !== undefined) n.secRef = c.secRef;
  const u = unmappedIds(c);
  if (u) withUnmapped(n, u); // shared: entries never change
  return n;
}

export function capsOf(inheritable: bigint, permitted: bigint, effective: bigint, bounding: bigint, ambient: bigint): Capabilities {
  return { inheritable, permitted, effective, bounding, ambient };
}

/** "CAP_SETUID, CAP_SETGID" or "none". */
export function capList(set: bigint): string {
  const n = capNames(set);
  return n.length ? n.join(', ') : 'none';
}

export { SECBIT };
