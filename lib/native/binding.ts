// The whole surface of the C++ addon, in one place (as node-pty's native.d.ts): every native
// function with its argument and result types. The rest of lib/ imports only this module.
import * as fs from 'fs';
import * as path from 'path';

export interface ProbeResult {
  sysname: string;
  release: string;
  version: string;
  machine: string;
  /** /proc/sys/kernel/cap_last_cap */
  capLastCap: number;
  userNamespaces: {
    maxUserNamespaces: number;
    canCreate: boolean;
    /** errno name when a user namespace could not be created */
    createError?: string;
    /** How many levels nest below the caller's namespace before the kernel refuses. */
    maxDepth: number;
    /** errno name of that refusal (ENOSPC at the kernel's depth limit). */
    maxDepthError?: string;
  };
  /** Securebits the kernel accepts (each bit tried in a throwaway child); null when untestable. */
  securebits: { known: number | null; error?: string };
  /** Whether PTRACE_SEIZE of a child of ours works (needed to read other tasks' securebits). */
  ptrace: { works: boolean; error?: string };
  linuxCr: {
    kallsymsReadable: boolean;
    /** sys_checkpoint present in /proc/kallsyms */
    sysCheckpoint: boolean;
    /** sys_restart present in /proc/kallsyms */
    sysRestart: boolean;
  };
}

/** A thread's credentials as the kernel reports them to that thread (native/cred_state.cc). */
export interface ThreadCreds {
  uid: number;
  euid: number;
  suid: number;
  fsuid: number;
  gid: number;
  egid: number;
  sgid: number;
  fsgid: number;
  groups: number[];
  caps: { inheritable: bigint; permitted: bigint; effective: bigint; bounding: bigint; ambient: bigint };
  securebits: number;
  noNewPrivs: boolean;
}

// --- live checkpoint ---

/** One /proc/PID/status (or task/TID/status), parsed strictly; ids as the reader sees them. */
export interface ProcStatus {
  /** The State letter (R, S, D, T, t, Z, ...). */
  state: string;
  tgid: number;
  pid: number;
  ppid: number;
  tracerPid: number;
  /** real, effective, saved, fs: mapped into the reader's user namespace */
  uids: [number, number, number, number];
  gids: [number, number, number, number];
  groups: number[];
  /** Pid namespaces outermost (the reader's) first; the last entry is the task's own view. */
  nstgid: number[];
  nspid: number[];
  nspgid: number[];
  nssid: number[];
  caps: { inheritable: bigint; permitted: bigint; effective: bigint; bounding: bigint; ambient: bigint };
  noNewPrivs: boolean;
}

export interface LiveThread extends ProcStatus {
  tid: number;
  /** From prctl(PR_GET_SECUREBITS) run inside the thread; null when unknown (see securebitsError). */
  securebits: number | null;
  securebitsError?: string;
}

export interface LiveTask {
  pid: number;
  /** Inode of /proc/PID/ns/user. */
  userNsInode: bigint;
  /** Pids as the task's own pid namespace sees them (0: outside it). */
  vpid: number;
  vtgid: number;
  vppid: number;
  vpgid: number;
  vsid: number;
  /** The leader first; only the leader unless `threads` was asked. */
  threads: LiveThread[];
}

export interface ReadLiveTasksOptions {
  threads?: boolean;
  /** When securebits cannot be read (ptrace refused): 'fail' (default) rejects with
   *  ERR_SECUREBITS_UNREADABLE, 'mark' leaves securebits null, 'skip' does not try at all
   *  (securebits null). */
  unknownSecurebits?: 'fail' | 'mark' | 'skip';
  /** 'ptrace' (default here: lib/checkpoint picks 'auto'), 'bpf' (ERR_SECUREBITS_READER_UNAVAILABLE
   *  where it cannot be used), 'auto': BPF where it can be used, else ptrace. */
  securebitsReader?: 'auto' | 'bpf' | 'ptrace';
  /** Tests only: keep the task stopped this long under ptrace (the ptrace reader then). */
  testDelayMs?: number;
  /**
   * Tests only: the most a call of up to 4 processes (leaders only) waits on its CPU for the
   * tracer before the loop waits for it (default 0.1; never on one CPU).
   */
  testSpinMs?: number;
}

/**
 * readLiveTasks's answer flat, for a caller that makes its own objects (faster in JavaScript than
 * in the addon). Per task, in `nums`: pid, vpid, vtgid, vppid, vpgid, vsid, thread count; then
 * per thread: tid, securebits (-1: null), index of securebitsError in `strings` (-1: none), State
 * letter's char code, tgid, pid, ppid, tracerPid, the four uids, the four gids, noNewPrivs (0/1),
 * then groups, nstgid, nspid, nspgid, nssid, each as a count followed by the values. In `bigs`:
 * per task userNsInode, then per thread the caps (inheritable, permitted, effective, bounding,
 * ambient).
 */
export interface LiveTasksFlat {
  nums: Float64Array;
  bigs: BigUint64Array;
  strings: string[];
}

/** One user namespace below the caller's; maps are relative to its parent level. */
export interface UserNsLevel {
  inode: bigint;
  /** The creator's uid as the parent namespace sees it. */
  ownerUid: number;
  uidMap: { inside: number; outside: number; count: number }[];
  gidMap: { inside: number; outside: number; count: number }[];
  setgroups: 'allow' | 'deny';
}

export interface LiveCheckpointBinding {
  /** Creds, pids and user namespace of each pid (and its threads), off the main thread. */
  readLiveTasks(pids: number[], options?: ReadLiveTasksOptions): Promise<LiveTask[]>;
  /** The same, flat (see LiveTasksFlat). */
  readLiveTasksFlat(pids: number[], options?: ReadLiveTasksOptions): Promise<LiveTasksFlat>;
  /**
   * A process and its descendants walked and read at once: the tasks as readLiveTasksFlat
   * gives them (zombies left out but for the root) and each one's parent pid (the root's 0).
   * Null, reading nothing, where securebits would be read over ptrace.
   */
  readLiveTreeFlat(root: number, options?: ReadLiveTasksOptions): Promise<{ tasks: LiveTasksFlat; parents: Int32Array }> | null;
  /**
   * The children of each pid (every thread's /proc/PID/task/TID/children), off the main thread:
   * per pid in order its count, then that many pids; a count of -1 when the process is gone. A
   * process whose leader is a zombie has -2 before its count.
   */
  readChildren(pids: number[]): Promise<Int32Array>;
  /** The strict status parser alone (throws ERR_PROC_PARSE). */
  parseProcStatus(text: string, path?: string): ProcStatus;
  /** Securebits of threads of another process, over ptrace (null: that thread exited). */
  readSecurebits(pid: number, tids?: number[], options?: { testDelayMs?: number }): Promise<(number | null)[]>;
  /** The chain from the caller's user namespace (excluded) down to pid's (included), outermost first. */
  readUserNsChain(pid: number): Promise<UserNsLevel[]>;
  callerUserNsInode(): bigint;
  /**
   * Ends the tracer (the helper process, named cr-creds-trace, that reads securebits over ptrace
   * and is kept between checkpoints) if it has nothing to do, and reaps it; false if it is busy.
   * Unless releaseReaders is false, also lets the BPF reader's program go (whether or not the
   * tracer was busy).
   */
  stopTracer(releaseReaders?: boolean): boolean;
  /** Pids of our helper processes (the tracer, helpers still exiting): tree walks leave them out. */
  helperPids(): number[];
  /** sys_checkpoint where /proc/kallsyms shows it; else throws ERR_NO_LINUX_CR, issuing no syscall. */
  /** sys_checkpoint through syscall `nr`; ERR_NO_LINUX_CR (nothing issued) unless kallsyms shows it. */
  linuxCrCheckpoint(pid: number, fd: number, flags: number, nr: number): number;
  linuxCrAvailable(): boolean;
}
// --- end live checkpoint ---

// --- restart ---

/** A CredOp the restart child performs (lib/model/ops.ts, minus execve), plus the linux-cr path. */
export type NativeRestartOp =
  | Exclude<import('../model/ops').CredOp, { op: 'execve' }>
  | NativeUnshareUser
  | { op: 'sys_restart' };

/**
 * unshare_user whose maps the map writer has written by newuidmap / newgidmap (absolute paths):
 * it runs `HELPER <child pid> inside outside count ...` and checks its exit status.
 */
export type NativeUnshareUser = Extract<import('../model/ops').CredOp, { op: 'unshare_user' }> & {
  uidHelper?: string;
  gidHelper?: string;
};

/** security.capability of a file (getxattr), or null when it has none. */
export interface FileCaps {
  permitted: bigint;
  inheritable: bigint;
  /** The effective bit: the permitted caps are raised at execve. */
  effective: boolean;
  /** VFS_CAP_REVISION_3: the namespace root uid the caps apply to. */
  rootid?: number;
}

/** Fields the child compares after its ops; an absent field is not compared. */
export interface NativeExpect {
  uid?: number;
  euid?: number;
  suid?: number;
  fsuid?: number;
  gid?: number;
  egid?: number;
  sgid?: number;
  fsgid?: number;
  /** Ascending, as getgroups(2) returns them. */
  groups?: readonly number[];
  caps?: Partial<ThreadCreds['caps']>;
  securebits?: number;
  noNewPrivs?: boolean;
}

export type NativeStdio = 'inherit' | 'pipe' | 'ignore' | number;

export interface NativeSpawnOptions {
  /** execve candidates, tried in order past ENOENT/ENOTDIR/EACCES (PATH searched by the caller). */
  files: readonly string[];
  argv: readonly string[];
  envp: readonly string[];
  cwd?: string;
  /** One entry per child fd from 0 (at least three; fds 0-2 default to inherit, later ones to closed). */
  stdio: readonly NativeStdio[];
  /** setsid() in the child before anything else (child_process's `detached`). */
  detached?: boolean;
  ops: readonly NativeRestartOp[];
  expect?: NativeExpect;
  /** For a { op: 'sys_restart' } op. standIn: call the named stand-in, never the syscall. */
  sysRestart?: { image: Uint8Array; standIn: boolean; standInErrno?: number; nr?: number; flags?: number };
  /** PR_SET_PDEATHSIG(SIGKILL) right before execve: the program dies when the calling thread does. */
  dieWithParent?: boolean;
  /** Called once, from the event loop, when the child has been reaped. */
  onExit(code: number | null, signal: number | null): void;
}

export interface NativeChild {
  pid: number;
  /** Parent ends of 'pipe' stdio (fd 0: write end; 1, 2: read ends; 3 and up: a socket), else null. */
  stdio: (number | null)[];
  /** pidfd_send_signal; false once the child has exited. */
  kill(signal?: number): boolean;
  ref(): void;
  unref(): void;
}

/**
 * A failure in the child before execve (thrown by spawn, the child already reaped):
 * code = errno name; phase 'op' (ops[step] failed; field names the map file for unshare_user,
 * or 'newuidmap: exit status N' / 'newgidmap: ...' for a helper, `actual` then its wait status),
 * 'verify' (field = the credential field that differs), 'stdio', 'chdir', 'execve', 'signals',
 * 'die-with-parent'.
 */
export interface NativeStepFailure extends Error {
  code: string;
  errno: number;
  phase: 'op' | 'verify' | 'stdio' | 'chdir' | 'execve' | 'signals' | 'die-with-parent';
  step: number;
  field?: string;
  expected?: bigint;
  actual?: bigint;
}

export interface RestartBinding {
  /** Fork, apply ops, verify, execve (native/spawn.cc). Throws a NativeStepFailure. */
  spawn(options: NativeSpawnOptions): NativeChild;
  /** The file capabilities of `path` (newuidmap / newgidmap without the set-uid bit). */
  readFileCaps(path: string): FileCaps | null;
}
// --- end restart ---

// --- agreement ---

/** A CredOp the agreement child performs (lib/model/ops.ts, minus execve: that is `exec`). */
export type NativeAgreementOp = Exclude<import('../model/ops').CredOp, { op: 'execve' }>;

export interface NativeAgreementRun {
  /** Per op: null when it succeeded, else the errno name (the child goes on past a refusal). */
  errors: (string | null)[];
  /** The child's creds after the last op (native/cred_state.cc). */
  creds: ThreadCreds;
  /** When exec was asked: execve's errno name, or what the executed program wrote on stdout. */
  exec?: { error?: string; output?: string };
}

export interface AgreementBinding {
  /** Forks a child (of the calling thread's creds) that performs ops, then maybe execs `exec.path`. */
  runCredOps(ops: readonly NativeAgreementOp[], exec?: { path: string }): NativeAgreementRun;
  /** Writes security.capability (v2; v3 with rootid, a kernel uid), or removes it (null). */
  setFileCaps(path: string, caps: { permitted: bigint; inheritable: bigint; effective: boolean; rootid?: number } | null): void;
}
// --- end agreement ---

export interface NativeBinding extends LiveCheckpointBinding, RestartBinding, AgreementBinding {
  // --- pidfds the caller holds (native/pidfd.cc) ---
  /** pidfd_send_signal: true when sent (signal 0: alive), false once the process has exited. */
  pidfdSendSignal(fd: number, signal: number): boolean;
  /** pidfd_open (close-on-exec); the caller closes it. */
  pidfdOpen(pid: number): number;

  // --- probe (native/probe.cc) ---
  probe(): ProbeResult;

  // --- the calling thread's creds (native/cred_state.cc) ---
  readThreadCreds(): ThreadCreds;
}

let cached: NativeBinding | undefined;

/** Loads the addon (a prebuild under prebuilds/ if one fits, else build/Release). */
export function native(): NativeBinding {
  if (!cached) {
    const root = path.join(__dirname, '..', '..');
    // The common case, a local build, loaded at once (node-gyp-build looks there first too, but
    // reads package.json and directories to get there); anything else goes through node-gyp-build.
    const local = path.join(root, 'build', 'Release', 'cr_creds.node');
    const override = process.env.CR_CREDS_PREBUILD !== undefined || process.env.PREBUILDS_ONLY !== undefined;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    if (!override && fs.existsSync(local)) cached = require(local) as NativeBinding;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    else cached = (require('node-gyp-build') as (dir: string) => NativeBinding)(root);
  }
  return cached;
}
