// Ids a cred holds that have no mapping in its own user namespace. The kernel keeps the distinct
// kernel id (kuid/kgid) behind such an id, and shows it to the task as the overflow id 65534; a
// Cred keeps ids as the task sees them, so the kernel ids live in this side-table, keyed by the
// (immutable) cred. "Kernel id" means the id in the outermost namespace of the cred's chain: the
// emulator's initial namespace, or an image's root namespace (the checkpointing reader's, which is
// the restarter's). The emulator's rules, the image codec (extension record UNMAPPED_EXT), live
// checkpoint, restart and inspect all read and write this one table.
import { kernelId, toKernelId } from './idmap';
import type { Cred } from './types';

/** The id a task sees for an id with no mapping in its namespace (/proc/sys/kernel/overflowuid). */
export const OVERFLOW_ID = 65534;

/** The eight id fields of a cred. */
export type IdField = 'uid' | 'euid' | 'suid' | 'fsuid' | 'gid' | 'egid' | 'sgid' | 'fsgid';
export const ID_FIELDS: readonly IdField[] = ['uid', 'euid', 'suid', 'fsuid', 'gid', 'egid', 'sgid', 'fsgid'];

/** 'uid' for the four uid fields, 'gid' for the four gid fields. */
export function idKind(f: IdField): 'uid' | 'gid' {
  return f.endsWith('uid') ? 'uid' : 'gid';
}

/**
 * Field f: the kernel id behind cred[f] (which reads OVERFLOW_ID). groups: the key of every
 * supplementary group (any order), present when one of them is unmapped: a mapped group is its gid as shown, an unmapped one unmappedKey(kernel gid).
 * Absent: every id is mapped (or the cred was built outside the rules, which then see ids as shown).
 */
export interface UnmappedIds extends Partial<Record<IdField, number>> {
  groups?: readonly number[];
}

const unmappedTable = new WeakMap<Cred, UnmappedIds>();

/** The cred's unmapped kernel ids; undefined (always, in the outermost namespace) when none. */
export function unmappedIds(c: Cred): UnmappedIds | undefined {
  return c.user.ns.creator ? unmappedTable.get(c) : undefined;
}

/** Records `u` (none when empty) for `c`, a cred being built; returns `c`. Entries are never
 *  changed after they are recorded, so creds may share one. */
export function withUnmapped(c: Cred, u: UnmappedIds | undefined): Cred {
  if (u && hasUnmapped(u)) unmappedTable.set(c, u);
  else if (c.user.ns.creator) unmappedTable.delete(c);
  return c;
}

export function hasUnmapped(u: UnmappedIds): boolean {
  for (const k in u) if (u[k as keyof UnmappedIds] !== undefined) return true;
  return false;
}

/** A comparison key for an unmapped kernel id: negative, never a shown id. */
export function unmappedKey(kid: number): number {
  // A -1 ("no mapping") turned into a key would read as gid 0: a caller's bug, never a key.
  if (!(kid >= 0)) throw new RangeError(`unmappedKey: ${kid} is no kernel id`);
  return -1 - kid;
}
/** The kernel id a negative key stands for. */
export const keyKernelId = (key: number): number => -1 - key;

/** cred[f] as a key: the id itself when mapped, unmappedKey(kernel id) when not. */
export function idKey(c: Cred, f: IdField): number {
  const k = unmappedIds(c)?.[f];
  return k === undefined ? c[f] : unmappedKey(k);
}

/** The kernel id behind cred[f]; -1 when it has none (an unmapped id of a cred built elsewhere). */
export function credKernelId(c: Cred, f: IdField): number {
  const k = unmappedIds(c)?.[f];
  return k !== undefined ? k : kernelId(c.user.ns, c[f], idKind(f));
}

/** The keys of the cred's supplementary groups (see UnmappedIds.groups). */
export function groupKeys(c: Cred): readonly number[] {
  return unmappedIds(c)?.groups ?? c.groups.gids;
}

/**
 * The entry of a cred derived from one with entry `u`, whose fields in `moves` now hold what the
 * old cred's field named there held, or (null) an id given by the caller, which is mapped.
 */
export function moveUnmapped(u: UnmappedIds | undefined, moves: Partial<Record<IdField, IdField | null>>): UnmappedIds | undefined {
  if (!u) return undefined;
  const out: UnmappedIds = { ...u };
  for (const f of Object.keys(moves) as IdField[]) {
    const from = moves[f];
    if (from && u[from] !== undefined) out[f] = u[from];
    else delete out[f];
  }
  return out;
}

/**
 * The groups as getgroups(2) returns them inside the cred's namespace: in kernel order, each
 * shown as the task sees it (so two unmapped groups read 65534 twice).
 */
export function groupsAsRead(c: Cred): number[] {
  const keys = groupKeys(c);
  const ns = c.user.ns;
  if (!ns.creator) return [...keys];
  const withKid = keys.map((k) => (k < 0 ? { kid: keyKernelId(k), shown: OVERFLOW_ID } : { kid: toKernelId(ns, k, 'gid'), shown: k }));
  // An unmappable shown gid (a cred built outside the rules) keeps its place among the shown ones.
  return withKid.sort((a, b) => (a.kid < 0 || b.kid < 0 ? 0 : a.kid - b.kid)).map((x) => x.shown);
}
