// The `inspect --json` form: a stable, documented schema (docs/inspect-json.md).
import { capHex, securebitNames } from '../model/capabilities';
import type { Cred } from '../model/types';
import { ARCH_NAMES } from '../format/constants';
import { DEFAULT_DIALECT, type Dialect } from '../format/dialects';
import type { Image } from '../format/types';
import { prefixJson, type PrefixJson } from './prefix';
import { collectNamespaces, type NamespaceEntry } from './namespaces';

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
  user: { uid: number; ns: number };
  caps: CapsJson;
  securebits: number | null;
  securebitNames: string[] | null;
  secRef: number | null;
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
  creator: { uid: number; ns: number } | null;
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
  /** Opaque SECURITY objects; body: the record's bytes after its header, as hex. */
  security: { objref: number; type: number; length: number; body: string }[];
}

export function isoTime(seconds: bigint): string | null {
  const ms = Number(seconds) * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return null;
  return new Date(ms).toISOString();
}

function nsIndex(entries: NamespaceEntry[]) {
  const m = new Map(entries.map((e) => [e.ns, e.index]));
  return (ns: object) => m.get(ns as never) ?? -1;
}

export function toInspectJson(image: Image, objrefs?: Map<object, number>): InspectJson {
  const nss = collectNamespaces(image, objrefs);
  const idx = nsIndex(nss);
  const cred = (c: Cred): CredJson => ({
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
    user: { uid: c.user.uid, ns: idx(c.user.ns) },
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
      creator: e.ns.creator ? { uid: e.ns.creator.uid, ns: idx(e.ns.creator.ns) } : null,
      uidMap: e.ns.uidMap ? e.ns.uidMap.map((x) => ({ ...x })) : null,
      gidMap: e.ns.gidMap ? e.ns.gidMap.map((x) => ({ ...x })) : null,
      setgroups: e.ns.setgroups ?? null,
      inode: e.ns.inode === undefined ? null : e.ns.inode.toString(),
    })),
    tasks: image.tasks.map((t, i) => ({
      index: i,
      pids: { ...t.pids },
      noNewPrivs: t.noNewPrivs,
      ecredSameAsCred: t.ecred === t.cred,
      cred: cred(t.cred),
      ecred: cred(t.ecred),
    })),
    security: (image.security ?? []).map((s) => ({ objref: s.objref, type: s.type, length: s.body.byteLength, body: Buffer.from(s.body.buffer, s.body.byteOffset, s.body.byteLength).toString('hex') })),
  };
}
