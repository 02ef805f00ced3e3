// UNMAPPED_EXT (8004): the ids of a cred that have no mapping in its user namespace, each as the
// nearest ancestor namespace that maps it sees it. The CRED shows such an id as the overflow id
// 65534, and its GROUPINFO shows unmapped supplementary groups as one 65534; this record keeps
// the real ids. It follows its CRED (or that CRED's CRED_EXT) and names it by objref; a reader
// of the series skips it by len. Written only when a cred has such an id, never with
// `compat: 'linux-cr'`.
//
//   +8  s32 cred_ref     the CRED before it
//   +12 u32 flags        bit0: a group that is really 65534 (mapped) is among the groups too
//   +16 u32 nr_entries
//   +20 u32 reserved (0)
//   +24 entries of 12 bytes: u32 field (0-7: uid euid suid fsuid gid egid sgid fsgid; 8: one
//       supplementary group), s32 userns_ref (the nearest ancestor USER_NS mapping the id),
//       u32 id (as that namespace sees it); ids first in field order, then groups ascending.
//   padded to 8 bytes.
import type { Cred, UserNamespace } from '../model/types';
import {
  ID_FIELDS,
  OVERFLOW_ID,
  type UnmappedIds,
  idKind,
  keyKernelId,
  unmappedIds,
  unmappedKey,
  withUnmapped,
} from '../model/unmapped';
import { nearestView, nsPath, toKernelId, validId } from '../model/idmap';
import { NGROUPS_MAX, RecordType } from './constants';

export const UNMAPPED_EXT_BASE = 24;
export const UNMAPPED_ENTRY_SIZE = 12;
/** Entry field code of a supplementary group (0-7 are ID_FIELDS). */
export const UNMAPPED_GROUP = 8;
export const UnmappedExtFlag = { OVERFLOW_GROUP_MAPPED: 1 } as const;
const UNMAPPED_EXT_FLAGS = 0x1;

export function unmappedExtLen(n: number): number {
  return (UNMAPPED_EXT_BASE + UNMAPPED_ENTRY_SIZE * n + 7) & ~7;
}

/** One entry: which field, and the id as namespace `ns` sees it. */
export interface UnmappedEntry {
  field: number;
  ns: UserNamespace;
  id: number;
}

/** The record's content for a cred; null when it has no unmapped id. Throws (a message) when the
 *  cred's table names a kernel id its namespace maps after all. */
export function unmappedEntries(c: Cred): { flags: number; entries: UnmappedEntry[] } | null {
  const u = unmappedIds(c);
  if (!u) return null;
  const own = c.user.ns;
  const entries: UnmappedEntry[] = [];
  const view = (field: number, kid: number, kind: 'uid' | 'gid', what: string) => {
    if (!validId(kid)) throw new Error(`${what} (kernel ${kind} ${kid}) is no id a kernel can hold`);
    const v = nearestView(own, kid, kind);
    if (v.ns === own) throw new Error(`${what} (kernel ${kind} ${kid}) is recorded unmapped, but the cred's namespace maps it to ${v.id}`);
    entries.push({ field, ns: v.ns, id: v.id });
  };
  ID_FIELDS.forEach((f, i) => {
    const kid = u[f];
    if (kid !== undefined) view(i, kid, idKind(f), f);
  });
  let flags = 0;
  if (u.groups) {
    for (const k of u.groups) if (k === OVERFLOW_ID) flags |= UnmappedExtFlag.OVERFLOW_GROUP_MAPPED;
    const kids = u.groups.filter((k) => k < 0).map(keyKernelId).sort((a, b) => a - b);
    for (const kid of kids) view(UNMAPPED_GROUP, kid, 'gid', 'a supplementary group');
  }
  return entries.length ? { flags, entries } : null;
}

/** What the decoder hands over: the record before this one and its objects. */
export interface UnmappedExtContext {
  le: boolean;
  prevType: number;
  /** The CRED record's type in the image's dialect. */
  credType: number;
  prevRef: number;
  prevValue: unknown;
  /** The USER_NS `ref` names (throws the decoder's error otherwise). */
  userns(ref: number): UserNamespace;
  /** The decoder's error for this record (rule 'extension'). */
  fail(text: string): Error;
}

/** Reads an UNMAPPED_EXT and records the kernel ids in the cred's unmapped-id table. */
export function readUnmappedExt(view: DataView, at: number, len: number, cx: UnmappedExtContext): void {
  if (cx.prevType !== cx.credType && cx.prevType !== RecordType.CRED_EXT)
    throw cx.fail('UNMAPPED_EXT must follow the CRED it extends (or that CRED\'s CRED_EXT)');
  if (len < UNMAPPED_EXT_BASE) throw cx.fail(`len ${len} is below the ${UNMAPPED_EXT_BASE}-byte UNMAPPED_EXT struct`);
  const le = cx.le;
  const ref = view.getInt32(at + 8, le);
  const flags = view.getUint32(at + 12, le);
  const n = view.getUint32(at + 16, le);
  if (ref !== cx.prevRef) throw cx.fail(`cred_ref ${ref} is not the CRED before it (${cx.prevRef})`);
  if ((flags & ~UNMAPPED_EXT_FLAGS) !== 0) throw cx.fail(`unknown flags 0x${flags.toString(16)}`);
  if (view.getUint32(at + 20, le) !== 0) throw cx.fail('reserved word is not 0');
  if (n === 0 || n > ID_FIELDS.length + NGROUPS_MAX) throw cx.fail(`${n} entries; at least 1, at most ${ID_FIELDS.length + NGROUPS_MAX}`);
  if (len !== unmappedExtLen(n)) throw cx.fail(`len ${len}, ${n} entries need ${unmappedExtLen(n)}`);
  const cred = cx.prevValue as Cred;
  if (unmappedIds(cred)) throw cx.fail('a second UNMAPPED_EXT for one CRED');
  const own = cred.user.ns;
  const ancestors = new Set(nsPath(own).slice(0, -1));
  const u: { -readonly [K in keyof UnmappedIds]: UnmappedIds[K] } = {};
  const groupKids: number[] = [];
  let lastField = -1;
  for (let i = 0, p = at + UNMAPPED_EXT_BASE; i < n; i++, p += UNMAPPED_ENTRY_SIZE) {
    const field = view.getUint32(p, le);
    const ns = cx.userns(view.getInt32(p + 4, le));
    const id = view.getUint32(p + 8, le);
    if (field > UNMAPPED_GROUP) throw cx.fail(`entry ${i}: field ${field} is none of 0-${UNMAPPED_GROUP}`);
    if (field < lastField || (field === lastField && field !== UNMAPPED_GROUP)) throw cx.fail(`entry ${i}: field ${field} out of order or repeated`);
    lastField = field;
    if (!ancestors.has(ns)) throw cx.fail(`entry ${i}: userns_ref names no ancestor of the cred's user namespace`);
    const kind = field === UNMAPPED_GROUP ? 'gid' : idKind(ID_FIELDS[field]);
    if (!validId(id)) throw cx.fail(`entry ${i}: ${kind} ${id} is the invalid id (uid_t)-1`);
    const kid = toKernelId(ns, id, kind);
    if (kid < 0) throw cx.fail(`entry ${i}: ${kind} ${id} has no mapping up to the image's root namespace`);
    if (nearestView(own, kid, kind).ns !== ns) throw cx.fail(`entry ${i}: ${kind} ${id} is not unmapped right below the namespace named`);
    if (field === UNMAPPED_GROUP) {
      if (groupKids.length && kid <= groupKids[groupKids.length - 1]) throw cx.fail(`entry ${i}: groups do not ascend by kernel gid`);
      groupKids.push(kid);
    } else {
      const f = ID_FIELDS[field];
      if (cred[f] !== OVERFLOW_ID) throw cx.fail(`entry ${i}: the CRED's ${f} is ${cred[f]}, not the overflow id ${OVERFLOW_ID}`);
      u[f] = kid;
    }
  }
  const shown = cred.groups.gids;
  const overflowMapped = (flags & UnmappedExtFlag.OVERFLOW_GROUP_MAPPED) !== 0;
  if (groupKids.length === 0 && overflowMapped) throw cx.fail('flag OVERFLOW_GROUP_MAPPED without group entries');
  if (groupKids.length) {
    if (!shown.includes(OVERFLOW_ID)) throw cx.fail(`group entries, but the CRED's GROUPINFO has no ${OVERFLOW_ID}`);
    u.groups = [...shown.filter((g) => g !== OVERFLOW_ID || overflowMapped), ...groupKids.map(unmappedKey)];
  }
  withUnmapped(cred, u);
}
