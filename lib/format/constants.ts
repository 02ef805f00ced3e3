// Numbers of the linux-cr format (final numbering of the v21 series) that a creds-only image uses.

/** u64 at offset 8 of the HEADER record; read both ways, it tells the byte order. */
export const HEAD_MAGIC = 0x00feed0cc0a2d200n;
/** u64 at offset 8 of the TAIL record. */
export const TAIL_MAGIC = 0x002d2a0cc0deef00n;

/** Record types (struct ckpt_hdr.type). */
export const RecordType = {
  HEADER: 1,
  HEADER_ARCH: 2,
  CONTAINER: 3,
  BUFFER: 4,
  STRING: 5,
  OBJREF: 6,
  LSM_INFO: 7,
  SECURITY: 8,
  PIDS: 101,
  TREE: 102,
  TASK: 103,
  TASK_NS: 104,
  TASK_OBJS: 105,
  RESTART_BLOCK: 106,
  THREAD: 107,
  CPU: 108,
  NS: 109,
  UTS_NS: 110,
  IPC_NS: 111,
  MNT_NS: 112,
  CAPABILITIES: 113,
  USER_NS: 114,
  CRED: 115,
  USER: 116,
  GROUPINFO: 117,
  TASK_CREDS: 118,
  /** cr-creds extension records (see extensions.ts). */
  CRED_EXT: 8001,
  USERNS_EXT: 8002,
  TASK_EXT: 8003,
  UNMAPPED_EXT: 8004,
  TAIL: 9001,
  ERROR: 9999,
} as const;
export type RecordTypeName = keyof typeof RecordType;

/** Object types (enum obj_type); the table runs 0..23. */
export const ObjType = {
  IGNORE: 0,
  PID: 1,
  INODE: 2,
  FILE_TABLE: 3,
  FILE: 4,
  MM: 5,
  FS: 6,
  SIGHAND: 7,
  SIGNAL: 8,
  NS: 9,
  UTS_NS: 10,
  IPC_NS: 11,
  MNT_NS: 12,
  USER_NS: 13,
  CRED: 14,
  USER: 15,
  GROUPINFO: 16,
  SOCK: 17,
  TTY: 18,
  SECURITY_PTR: 19,
  SECURITY: 20,
  NET_NS: 21,
  NETDEV: 22,
  SEM_UNDO: 23,
} as const;
export type ObjTypeName = keyof typeof ObjType;
export const OBJ_TYPE_MAX = 23;

/** Header arch_id values. */
export const Arch = { X86_32: 1, X86_64: 2, S390X: 3, ARM: 4 } as const;
export const ARCH_NAMES: Readonly<Record<number, string>> = {
  1: 'x86-32',
  2: 'x86-64',
  3: 's390x',
  4: 'arm',
};

/** Fixed record sizes, header included. */
export const RecordSize = {
  HDR: 8,
  HEADER: 72,
  TAIL: 16,
  OBJREF: 16,
  TREE: 16,
  PIDS_ENTRY: 24,
  TASK_CREDS: 16,
  CRED_88: 88,
  CRED_96: 96,
  USER: 16,
  USER_NS: 16,
  /** GROUPINFO: fixed part; the record is 16 + 4 x ngroups (4 pad bytes trail the gids). */
  GROUPINFO_BASE: 16,
  /** One uts string BUFFER: 8 + 65. */
  UTS_BUFFER: 73,
} as const;

/** Linux __NEW_UTS_LEN + 1. */
export const UTS_LEN = 65;
/** NGROUPS_MAX of the seed's kernel (and of today's). */
export const NGROUPS_MAX = 65536;
/** Most extents a uid_map or gid_map may hold (kernel limit since 4.15). */
export const MAX_ID_EXTENTS = 340;
/** The most tasks a kernel can have (PID_MAX_LIMIT on 64-bit). */
export const PID_MAX_LIMIT = 1 << 22;
/** The largest record a reader accepts: a full GROUPINFO; a BUFFER of pid entries for
 *  PID_MAX_LIMIT tasks; anything else at most 1 MiB. */
export const MAX_GROUPINFO_LEN = RecordSize.GROUPINFO_BASE + 4 * NGROUPS_MAX;
export const MAX_BUFFER_LEN = RecordSize.HDR + RecordSize.PIDS_ENTRY * PID_MAX_LIMIT;
export const MAX_RECORD_LEN = 1 << 20;

/** Securebits the seed's CRED record can carry (bits 0..5). */
export const SEED_SECUREBITS_MASK = 0x3f;

const RECORD_NAMES = new Map<number, string>(
  Object.entries(RecordType).map(([k, v]) => [v, k] as [number, string]),
);

/** 'CRED', 'GROUPINFO', or 'TYPE_1234' for a number the table does not name. */
export function recordName(type: number): string {
  return RECORD_NAMES.get(type) ?? `TYPE_${type}`;
}

const OBJ_NAMES = new Map<number, string>(
  Object.entries(ObjType).map(([k, v]) => [v, k] as [number, string]),
);
export function objTypeName(type: number): string {
  return OBJ_NAMES.get(type) ?? `OBJ_${type}`;
}
