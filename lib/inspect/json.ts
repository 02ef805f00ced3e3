// The `inspect --json` form: a stable, documented schema (docs/inspect-json.md).
import { capHex, securebitNames } from '../model/capabilities';
import type { Cred, TaskCreds } from '../model/types';
import { ARCH_NAMES } from '../format/constants';
import { DEFAULT_DIALECT, type Dialect } from '../format/dialects';
import type { Image } from '../format/types';
import { prefixJson, type PrefixJson } from './prefix';
import { collectNamespaces, type NamespaceEntry } from './namespaces';
import { LazyList, jsonChunks } from './json-stream';
import { unmappedViews } from './unmapped';
import { isoTime } from './iso-time';

/** Bumped on any change that is not a pure addition. */
export const INSPECT_SCHEMA_VERSION = 2;

export interface CapsJson {
  inheritable: string;
  permitted: string;
  effective: string;
  bounding: string;
  ambient: string;
}

export interface CredJson {
  objref: number | null;
  uid: number;
  euid: number;
  suid: number;
  fsuid: number;
  gid: number;
  egid: number;
  sgid: number;
  fsgid: number;
  groups: number[];
  /** objref of the group list (null if not known): equal lists may be distinct objects. */
  groupsObjref: number | null;
  /** objref: of the user object (null if not known). */
  user: { uid: number; ns: number; objref: number | null };
  caps: CapsJson;
  securebits: number | null;
  securebitNames: string[] | null;
  secRef: number | null;
  /** Ids without a mapping in the cred's namespace (shown there as 65534); [] when none. */
  unmapped: UnmappedJson[];
}

export interface UnmappedJson {
  /** 'uid' ... 'fsgid', or 'groups' for a supplementary group. */
  field: string;
  /** As the task sees it: 65534. */
  shown: number;
  /** The nearest ancestor namespace (index) that maps it, and the id there. */
  ancestor: { ns: number; id: number };
}

export interface IdMapJson {
  inside: number;
  outside: number;
  count: number;
}

export interface UserNamespaceJson {
  index: number;
  objref: number | null;
  depth: number;
  creator: { uid: number; ns: number; objref: number | null } | null;
  uidMap: IdMapJson[] | null;
  gidMap: IdMapJson[] | null;
  setgroups: 'allow' | 'deny' | null;
  /** Decimal string (a u64). */
  inode: string | null;
}

export interface TaskJson {
  index: number;
  pids: { vpid: number; vppid: number; vtgid: number; vpgid: number; vsid: number; depth: number };
  noNewPrivs: boolean;
  ecredSameAsCred: boolean;
  cred: CredJson;
  ecred: CredJson;
}

export interface InspectJson {
  schemaVersion: number;
  /** The record numbering the image was read in (v21: 2010, the seed's; v23: 2011). */
  dialect: Dialect;
  /** What stands between the uts strings and TREE, verbatim (hex), so a writer can repeat it. */
  prefix: PrefixJson;
  header: {
    byteOrder: 'little' | 'big';
    arch: number;
    archName: string | null;
    kernel: { major: number; minor: number; patch: number; rev: number };
    kernelVersion: string;
    /** Decimal string of the u64 seconds. */
    time: string;
    /** ISO 8601, or null when the time is out of Date's range. */
    timeIso: string | null;
    uflags: string;
    constants: number[];
    uts: { release: string; version: string; machine: string };
    credLayout: 88 | 96;
  };
  userNamespaces: UserNamespaceJson[];
  tasks: TaskJson[];
  security: SecurityJson[];
}

export interface SecurityJson {
  objref: number;
  type: number;
  length: number;
  /** The record's bytes after its header, as hex: what `encode` writes back. */
  body: string;
}

function nsIndex(entries: NamespaceEntry[]) {
  const m = new Map(entries.map((e) => [e.ns, e.index]));
  return (ns: object) => m.get(ns as never) ?? -1;
}

/** The `inspect --json` document. */
export function toInspectJson(image: Image, objrefs?: Map<object, number>): InspectJson {
  const doc = inspectJsonDocument(image, objrefs);
  return { ...doc, tasks: [...doc.tasks] };
}

/**
 * The text of JSON.stringify(toInspectJson(image, objrefs), null, 2), in pieces made as they are
 * written: a task's JSON exists only while it is written.
 */
export function inspectJsonChunks(image: Image, objrefs?: Map<object, number>): Generator<string> {
  return jsonChunks(inspectJsonDocument(image, objrefs));
}

/** Cred JSON objects kept for reuse (tasks share creds); the cache restarts when full. */
const CRED_CACHE_MAX = 4096;

/** toInspectJson()'s document, its tasks made one at a time as they are read. */
function inspectJsonDocument(image: Image, objrefs?: Map<object, number>): Omit<InspectJson, 'tasks'> & { tasks: LazyList<TaskJson, TaskCreds> } {
  const nss = collectNamespaces(image, objrefs);
  const idx = nsIndex(nss);
  const creds = new Map<Cred, CredJson>();
  const cred = (c: Cred): CredJson => {
    let j = creds.get(c);
    if (j === undefined) {
      if (creds.size >= CRED_CACHE_MAX) creds.clear();
      creds.set(c, (j = credJson(c)));
    }
    return j;
  };
  const credJson = (c: Cred): CredJson => ({
    objref: objrefs?.get(c) ?? null,
    uid: c.uid,
    euid: c.euid,
    suid: c.suid,
    fsuid: c.fsuid,
    gid: c.gid,
    egid: c.egid,
    sgid: c.sgid,
    fsgid: c.fsgid,
    groups: [...c.groups.gids],
    groupsObjref: objrefs?.get(c.groups) ?? null,
    user: { uid: c.user.uid, ns: idx(c.user.ns), objref: objrefs?.get(c.user) ?? null },
    caps: {
      inheritable: capHex(c.caps.inheritable),
      permitted: capHex(c.caps.permitted),
      effective: capHex(c.caps.effective),
      bounding: capHex(c.caps.bounding),
      ambient: capHex(c.caps.ambient),
    },
    securebits: c.securebits,
    securebitNames: c.securebits === null ? null : securebitNames(c.securebits),
    secRef: c.secRef ?? null,
    unmapped: unmappedViews(c).map((v) => ({ field: v.field, shown: v.shown, ancestor: { ns: idx(v.ancestor.ns), id: v.ancestor.id } })),
  });
  const h = image.header;
  return {
    schemaVersion: INSPECT_SCHEMA_VERSION,
    dialect: image.dialect ?? DEFAULT_DIALECT,
    prefix: prefixJson(image),
    header: {
      byteOrder: h.byteOrder,
      arch: h.arch,
      archName: ARCH_NAMES[h.arch] ?? null,
      kernel: { ...h.kernel },
      kernelVersion: `${h.kernel.major}.${h.kernel.minor}.${h.kernel.patch}`,
      time: h.time.toString(),
      timeIso: isoTime(h.time),
      uflags: `0x${h.uflags.toString(16)}`,
      constants: [...h.constants],
      uts: { ...h.uts },
      credLayout: image.credLayout,
    },
    userNamespaces: nss.map((e) => ({
      index: e.index,
      objref: e.objref,
      depth: e.depth,
      creator: e.ns.creator ? { uid: e.ns.creator.uid, ns: idx(e.ns.creator.ns), objref: objrefs?.get(e.ns.creator) ?? null } : null,
      uidMap: e.ns.uidMap ? e.ns.uidMap.map((x) => ({ ...x })) : null,
      gidMap: e.ns.gidMap ? e.ns.gidMap.map((x) => ({ ...x })) : null,
      setgroups: e.ns.setgroups ?? null,
      inode: e.ns.inode === undefined ? null : e.ns.inode.toString(),
    })),
    tasks: new LazyList(image.tasks, (t, i) => ({
      index: i,
      pids: { ...t.pids },
      noNewPrivs: t.noNewPrivs,
      ecredSameAsCred: t.ecred === t.cred,
      cred: cred(t.cred),
      ecred: cred(t.ecred),
    })),
    security: (image.security ?? []).map((s) => ({
      objref: s.objref,
      type: s.type,
      length: s.body.byteLength,
      body: Buffer.from(s.body.buffer, s.body.byteOffset, s.body.byteLength).toString('hex'),
    })),
  };
}
