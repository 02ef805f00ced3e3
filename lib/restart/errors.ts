// Typed errors of restart. Nothing is started when any of them is thrown before the fork;
// RestartStepError means the child was started, failed before execve, and has been reaped.
import type { NativeRestartOp } from '../native/binding';

// One Step type and one RestartDenied class for the whole library: the emulator's.
export type { Step } from '../emulator/step';
export { RestartDenied } from '../emulator/errors';

/** An image or request that restart cannot carry out on this kernel at all (any caller). */
export class RestartUnsupported extends Error {
  override name = 'RestartUnsupported';
  readonly code = 'ERR_RESTART_UNSUPPORTED';
}

/** carryCaps asked for capabilities that the rules do not let cross execve. */
export class CarryCapsRefused extends Error {
  override name = 'CarryCapsRefused';
  readonly code = 'ERR_CARRY_CAPS_REFUSED';
  constructor(
    message: string,
    /** Capability names that cannot be carried. */
    readonly caps: string[],
  ) {
    super(message);
  }
}

export type StepPhase = 'op' | 'verify' | 'stdio' | 'chdir' | 'execve' | 'signals' | 'die-with-parent';

/** The child failed before execve. code: the errno name ('EPERM', ...). */
export class RestartStepError extends Error {
  override name = 'RestartStepError';
  constructor(
    message: string,
    readonly code: string,
    readonly errno: number,
    readonly phase: StepPhase,
    /** Index into the op list for phase 'op'; -1 otherwise. */
    readonly step: number,
    /** The op name ('setresuid', ...), or the phase name ('verify', 'execve', ...). */
    readonly op: string,
    /** verify: the credential field that differs; unshare_user: the map file; stdio: 'fd N'. */
    readonly field?: string,
    readonly expected?: bigint,
    readonly actual?: bigint,
    readonly command?: string,
  ) {
    super(message);
  }
}

interface NativeFailureShape {
  code?: string;
  errno?: number;
  phase?: StepPhase;
  step?: number;
  field?: string;
  expected?: bigint;
  actual?: bigint;
  message: string;
}

/** Turns the addon's failure into a RestartStepError (other errors pass through). */
export function stepErrorFrom(e: unknown, ops: readonly NativeRestartOp[], command: string): unknown {
  const f = e as NativeFailureShape;
  if (!f || typeof f !== 'object' || typeof f.phase !== 'string' || typeof f.code !== 'string') return e;
  const step = f.step ?? -1;
  const op = f.phase === 'op' && step >= 0 && step < ops.length ? ops[step].op : f.phase;
  let what: string;
  if (f.phase === 'op') what = `step ${step} (${op}${f.field ? `, ${f.field}` : ''}) failed`;
  else if (f.phase === 'verify')
    what = f.field
      ? `read-back differs in ${f.field}: expected ${f.expected}, got ${f.actual}`
      : 'reading the creds back failed';
  else if (f.phase === 'execve') what = `execve ${command} failed`;
  else what = `${f.phase}${f.field ? ` (${f.field})` : ''} failed`;
  // The working directory is entered with the restored creds: say so when they may not.
  const hint = f.phase === 'chdir' && f.code === 'EACCES' ? ' (the restored creds may not enter the working directory; pass cwd)' : '';
  return new RestartStepError(
    `restart of ${command}: ${what}: ${f.code}${hint}`,
    f.code,
    f.errno ?? 0,
    f.phase,
    f.phase === 'op' ? step : -1,
    op,
    f.field,
    f.expected,
    f.actual,
    command,
  );
}

/**
 * The `signal` option was aborted: before the start (nothing was started) or after it (the
 * program was killed with killSignal; the rejection comes once it has exited). `name` is
 * 'AbortError' and `code` 'ABORT_ERR', as Node's own aborted operations; `cause`: the signal's reason.
 */
export class RestartAborted extends Error {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
}

/** What a restarted program did, in execa's manner (the handle's promise resolves to it). */
export interface RestartResult {
  command: string;
  args: string[];
  pid: number;
  /** The exit status, or null when the program died by a signal. */
  exitCode: number | null;
  /** The signal that ended the program, or null. */
  signal: NodeJS.Signals | null;
  /** With `buffer`: what the program wrote on a piped stdout / stderr (up to maxBuffer). */
  stdout?: string | Buffer;
  stderr?: string | Buffer;
  /** Non-zero exit, a signal, timedOut or isMaxBuffer. */
  failed: boolean;
  /** Killed by the `timeout` option. */
  timedOut: boolean;
  /** Killed through the `signal` option (the promise then rejects with RestartAborted). */
  isCanceled: boolean;
  /** Killed because a collected stream passed maxBuffer. */
  isMaxBuffer: boolean;
}

/** With `reject: true`: the program failed. Carries the whole result. */
export class RestartExitError extends Error {
  override name = 'RestartExitError';
  readonly code = 'ERR_RESTART_EXIT';
  constructor(readonly result: RestartResult) {
    super(`${result.command}: ${exitWords(result)}`);
  }
}

function exitWords(r: RestartResult): string {
  if (r.timedOut) return `timed out, killed by ${r.signal ?? 'a signal'}`;
  if (r.isMaxBuffer) return `output passed maxBuffer, killed by ${r.signal ?? 'a signal'}`;
  if (r.signal) return `killed by ${r.signal}`;
  return `exited with status ${r.exitCode}`;
}
