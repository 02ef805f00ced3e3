// Our own protobuf definitions of the CRIU messages that carry credentials and the process tree,
// with CRIU's field numbers and types (CRIU's images/creds.proto, core.proto, userns.proto,
// inventory.proto, pstree.proto as of 4.2). Only what cr-creds reads or writes is declared:
// protobuf skips undeclared fields when decoding, so a full CRIU core image still decodes, and we
// never have to track fields we do not use (registers, timers, ...).
//
// Names keep CRIU's snake_case so decoded objects compare directly with `crit decode` output.
// One difference from crit's JSON, normalized here: uint64 fields (futex_rla, dump_uptime) are
// bigint, never a lossy double or a Long object.
import type * as Protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto2";
package crcreds.criu;

message uid_gid_extent {
  required uint32 first       = 1;
  required uint32 lower_first = 2;
  required uint32 count       = 3;
}

message userns_entry {
  repeated uid_gid_extent uid_map = 1;
  repeated uid_gid_extent gid_map = 2;
}

message creds_entry {
  required uint32 uid   = 1;
  required uint32 gid   = 2;
  required uint32 euid  = 3;
  required uint32 egid  = 4;
  required uint32 suid  = 5;
  required uint32 sgid  = 6;
  required uint32 fsuid = 7;
  required uint32 fsgid = 8;
  // Capability sets as 32-bit words, lowest word first (CRIU writes two).
  repeated uint32 cap_inh = 9;
  repeated uint32 cap_prm = 10;
  repeated uint32 cap_eff = 11;
  repeated uint32 cap_bnd = 12;
  required uint32 secbits = 13;
  repeated uint32 groups  = 14;
  optional string lsm_profile    = 15;
  optional string lsm_sockcreate = 16;
  optional bytes  apparmor_data  = 17;
  optional uint32 no_new_privs   = 18;
  repeated uint32 cap_amb        = 19;
}

message task_kobj_ids_entry {
  required uint32 vm_id        = 1;
  required uint32 files_id     = 2;
  required uint32 fs_id        = 3;
  required uint32 sighand_id   = 4;
  optional uint32 pid_ns_id    = 5;
  optional uint32 net_ns_id    = 6;
  optional uint32 ipc_ns_id    = 7;
  optional uint32 uts_ns_id    = 8;
  optional uint32 mnt_ns_id    = 9;
  optional uint32 user_ns_id   = 10;
  optional uint32 cgroup_ns_id = 11;
  optional uint32 time_ns_id   = 12;
}

message thread_core_entry {
  required uint64      futex_rla     = 1;
  required uint32      futex_rla_len = 2;
  optional creds_entry creds         = 10;
}

message core_entry {
  enum march {
    UNKNOWN = 0;
    X86_64  = 1;
    ARM     = 2;
    AARCH64 = 3;
    PPC64   = 4;
    S390    = 5;
    MIPS    = 6;
    LOONGARCH64 = 7;
    RISCV64 = 8;
  }
  required march               mtype       = 1;
  optional task_kobj_ids_entry ids         = 4;
  optional thread_core_entry   thread_core = 5;
}

enum lsmtype {
  NO_LSM   = 0;
  SELINUX  = 1;
  APPARMOR = 2;
}

message inventory_entry {
  required uint32              img_version   = 1;
  optional bool                fdinfo_per_id = 2;
  optional task_kobj_ids_entry root_ids      = 3;
  optional bool                ns_per_id     = 4;
  optional uint32              root_cg_set   = 5;
  optional lsmtype             lsmtype       = 6;
  optional uint64              dump_uptime   = 8;
  optional uint32              pre_dump_mode = 9;
  optional bool                tcp_close     = 10;
  optional uint32              network_lock_method = 11;
}

message pstree_entry {
  required uint32 pid     = 1;
  required uint32 ppid    = 2;
  required uint32 pgid    = 3;
  required uint32 sid     = 4;
  repeated uint32 threads = 5;
}
`;

/** CRIU's message names, as the shapes below are named. */
const TYPE_NAMES = {
  CredsEntry: 'creds_entry',
  CoreEntry: 'core_entry',
  ThreadCoreEntry: 'thread_core_entry',
  TaskKobjIdsEntry: 'task_kobj_ids_entry',
  InventoryEntry: 'inventory_entry',
  PstreeEntry: 'pstree_entry',
  UsernsEntry: 'userns_entry',
} as const;
export type MessageName = keyof typeof TYPE_NAMES;

// protobufjs is loaded on first use: `require('cr-creds')` and every CLI command other than
// convert never load it (a restarted program's uid may not even be able to read it).
let loaded: { pb: typeof Protobuf; types: Record<MessageName, Protobuf.Type> } | undefined;

function protobuf(): NonNullable<typeof loaded> {
  if (!loaded) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pb = require('protobufjs') as typeof Protobuf;
    const root = pb.parse(SCHEMA, { keepCase: true }).root;
    root.resolveAll();
    const types = {} as Record<MessageName, Protobuf.Type>;
    for (const [name, criuName] of Object.entries(TYPE_NAMES)) types[name as MessageName] = root.lookupType(`crcreds.criu.${criuName}`);
    loaded = { pb, types };
  }
  return loaded;
}

/** The protobufjs type of a message, by CRIU's message name. */
export function messageType(name: MessageName): Protobuf.Type {
  return protobuf().types[name];
}

// Plain-object shapes of the messages, as decodeMessage gives them: optional fields absent when
// unset, repeated fields absent when empty (as `crit decode` leaves them out), uint64 as bigint.

export interface CredsEntry {
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  suid: number;
  sgid: number;
  fsuid: number;
  fsgid: number;
  cap_inh?: number[];
  cap_prm?: number[];
  cap_eff?: number[];
  cap_bnd?: number[];
  secbits: number;
  groups?: number[];
  lsm_profile?: string;
  lsm_sockcreate?: string;
  apparmor_data?: Uint8Array;
  no_new_privs?: number;
  cap_amb?: number[];
}

export interface TaskKobjIdsEntry {
  vm_id: number;
  files_id: number;
  fs_id: number;
  sighand_id: number;
  pid_ns_id?: number;
  net_ns_id?: number;
  ipc_ns_id?: number;
  uts_ns_id?: number;
  mnt_ns_id?: number;
  user_ns_id?: number;
  cgroup_ns_id?: number;
  time_ns_id?: number;
}

export interface ThreadCoreEntry {
  futex_rla: bigint;
  futex_rla_len: number;
  creds?: CredsEntry;
}

/** CoreEntry.march values. */
export const MARCH = {
  UNKNOWN: 0,
  X86_64: 1,
  ARM: 2,
  AARCH64: 3,
  PPC64: 4,
  S390: 5,
  MIPS: 6,
  LOONGARCH64: 7,
  RISCV64: 8,
} as const;

export interface CoreEntry {
  mtype: number;
  ids?: TaskKobjIdsEntry;
  thread_core?: ThreadCoreEntry;
}

/** inventory_entry.lsmtype values. */
export const LSMTYPE = { NO_LSM: 0, SELINUX: 1, APPARMOR: 2 } as const;

export interface InventoryEntry {
  img_version: number;
  fdinfo_per_id?: boolean;
  root_ids?: TaskKobjIdsEntry;
  ns_per_id?: boolean;
  root_cg_set?: number;
  lsmtype?: number;
  dump_uptime?: bigint;
  pre_dump_mode?: number;
  tcp_close?: boolean;
  network_lock_method?: number;
}

export interface PstreeEntry {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  threads?: number[];
}

export interface UidGidExtent {
  first: number;
  lower_first: number;
  count: number;
}

export interface UsernsEntry {
  uid_map?: UidGidExtent[];
  gid_map?: UidGidExtent[];
}

/** What each message name decodes to. */
export interface MessageShapes {
  CredsEntry: CredsEntry;
  CoreEntry: CoreEntry;
  ThreadCoreEntry: ThreadCoreEntry;
  TaskKobjIdsEntry: TaskKobjIdsEntry;
  InventoryEntry: InventoryEntry;
  PstreeEntry: PstreeEntry;
  UsernsEntry: UsernsEntry;
}

// Enums as numbers; uint64 as bigint (exact, unlike Number above 2^53); bytes as Uint8Array.
const TO_OBJECT: Protobuf.IConversionOptions = { longs: BigInt as unknown as Protobuf.IConversionOptions['longs'], enums: Number };

/** Decodes one payload; throws protobufjs' errors (the framing layer wraps them). */
export function decodeMessage<N extends MessageName>(name: N, bytes: Uint8Array): MessageShapes[N] {
  const t = messageType(name);
  return t.toObject(t.decode(bytes), TO_OBJECT) as MessageShapes[N];
}

const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

/**
 * Checks a plain object against a message type before encoding: every required field present,
 * no unknown field, every integer within its wire type, enums among the declared values. (Without
 * this, protobufjs' fromObject would silently wrap -1 to 4294967295 or 2^32 to 0.) Returns the
 * first problem as `path: message`, or null.
 */
function check(type: Protobuf.Type, value: unknown, at: string): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `${at}: object expected`;
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj))
    if (!type.fields[key] && obj[key] !== undefined) return `${at}.${key}: no such field in ${type.name}`;
  for (const f of type.fieldsArray) {
    const v = obj[f.name];
    const where = `${at}.${f.name}`;
    if (v === undefined) {
      if (f.required) return `${where}: required field missing`;
      continue;
    }
    const items = f.repeated ? v : [v];
    if (!Array.isArray(items)) return `${where}: array expected`;
    for (let i = 0; i < items.length; i++) {
      const problem = checkScalar(f, items[i], f.repeated ? `${where}[${i}]` : where);
      if (problem) return problem;
    }
  }
  return null;
}

function checkScalar(f: Protobuf.Field, v: unknown, where: string): string | null {
  const rt = f.resolvedType;
  const { pb } = protobuf();
  if (rt instanceof pb.Type) return check(rt, v, where);
  if (rt instanceof pb.Enum)
    return Number.isInteger(v) && Object.values(rt.values).includes(v as number) ? null : `${where}: not a value of enum ${rt.name}`;
  switch (f.type) {
    case 'uint32':
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= U32_MAX ? null : `${where}: uint32 expected, got ${String(v)}`;
    case 'uint64': {
      const b = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v as number) : -1n;
      return b >= 0n && b <= U64_MAX ? null : `${where}: uint64 expected, got ${String(v)}`;
    }
    case 'bool':
      return typeof v === 'boolean' ? null : `${where}: boolean expected`;
    case 'string':
      return typeof v === 'string' ? null : `${where}: string expected`;
    case 'bytes':
      return v instanceof Uint8Array ? null : `${where}: bytes expected`;
    default:
      return `${where}: field type ${f.type} is not handled`;
  }
}

/**
 * Encodes one message as protobuf-c (CRIU) does: fields in field-number order, repeated scalars
 * unpacked (proto2), optional fields only when set. Throws TypeError naming the bad field.
 */
export function encodeMessage<N extends MessageName>(name: N, value: MessageShapes[N]): Uint8Array {
  const t = messageType(name);
  const problem = check(t, value, name);
  if (problem) throw new TypeError(problem);
  return t.encode(t.fromObject(value as unknown as Record<string, unknown>)).finish();
}
