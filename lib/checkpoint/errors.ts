// Typed errors of live checkpoint. The addon's errors carry `code` (an errno name such as ESRCH,
// or an ERR_* code), `syscall` and `pid`; fromNative() turns them into these classes.

export type CheckpointErrorCode =
  /** The process is gone (before or during checkpoint). */
  | 'ESRCH'
  /** /proc/PID/status (or a map) did not parse: a malformed or missing line. */
  | 'ERR_PROC_PARSE'
  /** Securebits could not be read (ptrace refused), and the caller did not allow unknown securebits. */
  | 'ERR_SECUREBITS_UNREADABLE'
  /** securebitsReader 'bpf' was asked for and cannot be used here (the message says why). */
  | 'ERR_SECUREBITS_READER_UNAVAILABLE'
  /** Reading another task's securebits over ptrace is implemented for x86-64 only. */
  | 'ERR_UNSUPPORTED_ARCH'
  /** linux-cr's sys_checkpoint is not in this kernel. */
  | 'ERR_NO_LINUX_CR'
  /** compat: 'linux-cr' asked for an image the seed format cannot hold. */
  | 'ERR_NOT_EXPRESSIBLE'
  /** Any other system call failure: the errno name. */
  | string;

export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(
    message: string,
    readonly code: CheckpointErrorCode,
    readonly pid?: number,
    readonly syscall?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The process exited before or during checkpoint. Nothing of it was left traced or stopped. */
export class ProcessGoneError extends CheckpointError {
  override name = 'ProcessGoneError';
}

export class ProcParseError extends CheckpointError {
  override name = 'ProcParseError';
}

/** Securebits could not be read (ptrace refused, say); pass unknownSecurebits: 'mark' to go on. */
export class SecurebitsUnreadableError extends CheckpointError {
  override name = 'SecurebitsUnreadableError';
}

/** The BPF reader was asked for and cannot be used: no CAP_BPF and CAP_PERFMON, no BTF, an older kernel. */
export class SecurebitsReaderUnavailableError extends CheckpointError {
  override name = 'SecurebitsReaderUnavailableError';
}

export class UnsupportedArchitectureError extends CheckpointError {
  override name = 'UnsupportedArchitectureError';
}

export class NoLinuxCrError extends CheckpointError {
  override name = 'NoLinuxCrError';
}

/** compat: 'linux-cr' and the live state holds what the seed format cannot express. */
export class NotExpressibleError extends CheckpointError {
  override name = 'NotExpressibleError';
}

interface NativeErrorShape {
  message: string;
  code?: string;
  pid?: number;
  syscall?: string;
}

/** Wraps an error thrown by the addon into the matching class (other errors pass through). */
export function fromNative(e: unknown): unknown {
  // Not `instanceof Error`: the addon's errors may come from another realm (jest's vm contexts).
  if (e === null || typeof e !== 'object' || typeof (e as { message?: unknown }).message !== 'string') return e;
  const n = e as Error & NativeErrorShape;
  if (typeof n.code !== 'string') return e;
  const args = [n.message, n.code, n.pid, n.syscall, { cause: e }] as const;
  switch (n.code) {
    case 'ESRCH':
      return new ProcessGoneError(...args);
    case 'ERR_PROC_PARSE':
      return new ProcParseError(...args);
    case 'ERR_SECUREBITS_UNREADABLE':
      return new SecurebitsUnreadableError(...args);
    case 'ERR_SECUREBITS_READER_UNAVAILABLE':
      return new SecurebitsReaderUnavailableError(...args);
    case 'ERR_UNSUPPORTED_ARCH':
      return new UnsupportedArchitectureError(...args);
    case 'ERR_NO_LINUX_CR':
      return new NoLinuxCrError(...args);
    default:
      return new CheckpointError(...args);
  }
}
