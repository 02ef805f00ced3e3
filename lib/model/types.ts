// The credential model every part of cr-creds shares: the codec decodes into it, the emulator
// computes on it, the addon reads live tasks into it, and restart applies it.
//
// Sharing is by object identity, as in the kernel: two creds that point at the same GroupInfo
// object share it, and the image writes it once. Build shared objects once and reuse them (the
// builder in lib/format/builder.ts does this for you).

/** A capability set: bit n set means capability n (CAP_CHOWN = 0, ... CAP_CHECKPOINT_RESTORE = 40). */
export type CapSet = bigint;

export interface Capabilities {
  inheritable: CapSet;
  permitted: CapSet;
  effective: CapSet;
  bounding: CapSet;
  /** Ambient set (kernel 4.3+). Not in the linux-cr format; carried by an extension record. */
  ambient: CapSet;
}

/** Supplementary groups, strictly ascending (the kernel keeps them sorted). */
export interface GroupInfo {
  readonly gids: readonly number[];
}

/** One line of /proc/PID/uid_map or gid_map: ids [inside, inside+count) map to [outside, ...). */
export interface IdMapExtent {
  readonly inside: number;
  readonly outside: number;
  readonly count: number;
}

export interface UserNamespace {
  /**
   * The user that created this namespace (its owner), which lives in the parent namespace.
   * null: the image's root namespace, i.e. the restarter's own namespace (creator_ref 0).
   */
  readonly creator: User | null;
  /** Today's kernels only (extension record): maps relative to the parent namespace. */
  readonly uidMap?: readonly IdMapExtent[];
  readonly gidMap?: readonly IdMapExtent[];
  /** /proc/PID/setgroups of this namespace. */
  readonly setgroups?: 'allow' | 'deny';
  /** Namespace inode at checkpoint, for identification only (never used at restart). */
  readonly inode?: bigint;
}

/** A user_struct: a uid inside a namespace. */
export interface User {
  readonly uid: number;
  readonly ns: UserNamespace;
}

/** Bits of the securebits word (include/uapi/linux/securebits.h). */
export const SECBIT = {
  NOROOT: 1 << 0,
  NOROOT_LOCKED: 1 << 1,
  NO_SETUID_FIXUP: 1 << 2,
  NO_SETUID_FIXUP_LOCKED: 1 << 3,
  KEEP_CAPS: 1 << 4,
  KEEP_CAPS_LOCKED: 1 << 5,
  NO_CAP_AMBIENT_RAISE: 1 << 6,
  NO_CAP_AMBIENT_RAISE_LOCKED: 1 << 7,
  EXEC_RESTRICT_FILE: 1 << 8,
  EXEC_RESTRICT_FILE_LOCKED: 1 << 9,
  EXEC_DENY_INTERACTIVE: 1 << 10,
  EXEC_DENY_INTERACTIVE_LOCKED: 1 << 11,
} as const;
export type SecbitName = keyof typeof SECBIT;

/** A struct cred. Ids are as the task sees them in its own user namespace (user.ns). */
export interface Cred {
  uid: number;
  euid: number;
  suid: number;
  fsuid: number;
  gid: number;
  egid: number;
  sgid: number;
  fsgid: number;
  groups: GroupInfo;
  user: User;
  caps: Capabilities;
  /** The securebits word; null when it could not be read (checkpoint without ptrace). */
  securebits: number | null;
  /** LSM label objref of the 96-byte CRED layout, kept verbatim (0: none). */
  secRef?: number;
}

/** The pid entry the linux-cr TREE carries for each task. */
export interface TaskPids {
  vpid: number;
  vppid: number;
  vtgid: number;
  vpgid: number;
  vsid: number;
  depth: number;
}

/** One task's credentials: its real (objective) and effective (subjective) cred. */
export interface TaskCreds {
  pids: TaskPids;
  /** task->real_cred */
  cred: Cred;
  /** task->cred; the same object as `cred` when the task has no override. */
  ecred: Cred;
  /** Per-task flag (kernel 3.5+), extension record. */
  noNewPrivs: boolean;
}
