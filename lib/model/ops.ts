// Credential operations as data. One list of these is what the emulator plays (and explains),
// what the addon's forked child performs on the real kernel before execve (restart), and what
// the kernel-agreement harness runs both ways and compares, step by step.
import type { CapSet, IdMapExtent } from './types';

/** -1 leaves an id unchanged, as for the syscalls. */
export type IdArg = number;

export type CredOp =
  | { op: 'setresuid'; ruid: IdArg; euid: IdArg; suid: IdArg }
  | { op: 'setresgid'; rgid: IdArg; egid: IdArg; sgid: IdArg }
  | { op: 'setfsuid'; fsuid: number }
  | { op: 'setfsgid'; fsgid: number }
  | { op: 'setgroups'; gids: readonly number[] }
  /** capset(2), version 3, for the calling thread. */
  | { op: 'capset'; inheritable: CapSet; permitted: CapSet; effective: CapSet }
  /** prctl(PR_SET_SECUREBITS) */
  | { op: 'set_securebits'; bits: number }
  /** prctl(PR_SET_KEEPCAPS) */
  | { op: 'set_keepcaps'; on: boolean }
  /** prctl(PR_CAPBSET_DROP) */
  | { op: 'capbset_drop'; cap: number }
  /** prctl(PR_CAP_AMBIENT, RAISE / LOWER / CLEAR_ALL) */
  | { op: 'ambient_raise'; cap: number }
  | { op: 'ambient_lower'; cap: number }
  | { op: 'ambient_clear_all' }
  /** prctl(PR_SET_NO_NEW_PRIVS, 1) */
  | { op: 'set_no_new_privs' }
  /**
   * unshare(CLONE_NEWUSER), then the new namespace's setgroups and maps written by a helper that
   * stays in the parent level with the caller's creds from before the unshare (the kernel's rules
   * for who may write which map apply to that helper). Omitted maps stay unwritten.
   */
  | {
      op: 'unshare_user';
      setgroups?: 'allow' | 'deny';
      uidMap?: readonly IdMapExtent[];
      gidMap?: readonly IdMapExtent[];
    }
  /** execve of a program; `file` describes what the kernel sees of it. */
  | { op: 'execve'; path: string; file?: ExecFile };

/** What execve's credential computation looks at in the file being executed. */
export interface ExecFile {
  /** st_mode set-user-ID / set-group-ID bits, with the file's owner. */
  setuid?: { uid: number };
  setgid?: { gid: number };
  /**
   * The owner ids the set-id bits do not name, as the task sees them; -1: no mapping in the
   * task's user namespace (execve ignores set-id bits unless both owner ids are mapped).
   * Absent: taken as mapped.
   */
  owner?: { uid?: number; gid?: number };
  /** security.capability xattr (VFS_CAP_REVISION_2/3). */
  fileCaps?: { permitted: CapSet; inheritable: CapSet; effective: boolean; rootid?: number };
}

export type CredOpName = CredOp['op'];

/** The outcome of one operation: success, or the errno name the kernel gives. */
export interface OpResult {
  ok: boolean;
  /** 'EPERM', 'EINVAL', ... when !ok */
  errno?: string;
}
