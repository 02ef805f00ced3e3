// Numbers of the linux-cr format that do not depend on the dialect (see dialects.ts for those
// that do).

/** u64 at offset 8 of the HEADER record; read both ways, it tells the byte order. */
export const HEAD_MAGIC = 0x00feed0cc0a2d200n;
/** u64 at offset 8 of the TAIL record. */
export const TAIL_MAGIC = 0x002d2a0cc0deef00n;

/**
 * Record types every dialect numbers alike (struct ckpt_hdr.type): the core records, our
 * extensions and the end. The task-part records (TREE .. TASK_CREDS) moved between dialects:
 * see dialects.ts.
 */
export const RecordType = {
  HEADER: 1,
  HEADER_ARCH: 2,
  CONTAINER: 3,
  BUFFER: 4,
  STRING: 5,
  OBJREF: 6,
  LSM_INFO: 7,
  SECURITY: 8,
  /** cr-creds extension records (see extensions.ts). */
  CRED_EXT: 8001,
  USERNS_EXT: 8002,
  TASK_EXT: 8003,
  TAIL: 9001,
  ERROR: 9999,
} as const;
export type RecordTypeName = keyof typeof RecordType;

/** Header arch_id values (the series' enum, v21 era). */
export const Arch = { X86_32: 1, X86_64: 2, S390X: 3, PPC32: 4, PPC64: 5, ARM: 6 } as const;
export const ARCH_NAMES: Readonly<Record<number, string>> = {
  1: 'x86-32',
  2: 'x86-64',
  3: 's390x',
  4: 'ppc32',
  5: 'ppc64',
  6: 'arm',
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
  /** CONTAINER: the header alone (the series' struct has no fields). */
  CONTAINER: 8,
  /** x86 HEADER_ARCH: u16 has_fxsr, has_xsave, xstate_size, pad. */
  HEADER_ARCH_X86: 16,
  /** The LSM-name BUFFER: 8 + CHECKPOINT_LSM_NAME_MAX + 1. */
  LSM_NAME_BUFFER: 19,
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

/** The series' CHECKPOINT_LSM_NAME_MAX + 1: the LSM-name BUFFER's body. */
export const LSM_NAME_LEN = 11;
/** The longest LSM-name BUFFER body a reader accepts. */
export const MAX_LSM_NAME_LEN = 256;

/** Securebits the seed's CRED record can carry (bits 0..5). */
export const SEED_SECUREBITS_MASK = 0x3f;

