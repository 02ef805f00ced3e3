// restart()'s options, named as child_process.spawn and execa name them, and their checks. An
// unknown name is a TypeError (a misspelt `timout` must not be silently ignored); every check
// runs before anything is judged or started.
import { Stream } from 'stream';
import { constants } from 'os';
import type { IdmapHelperPaths } from './idmap-helpers';

/** One child fd: as child_process.spawn takes it. */
export type StdioEntry = 'pipe' | 'ignore' | 'inherit' | number | Stream | null | undefined;

/** One value for fds 0-2, or one entry per child fd from 0 (entries past 2: extra fds). */
export type StdioOption = 'pipe' | 'ignore' | 'inherit' | readonly StdioEntry[];

export interface RestartOptions {
  /** Index of the task in the image (default 0, the root task). */
  task?: number;
  /** Or: the task's original vpid. */
  pid?: number;
  /** Judge and plan only; nothing is started (restart() returns a RestartPlanReport). */
  dryRun?: boolean;
  /** Carry the image's permitted capabilities across execve through ambient (see docs/restart.md). */
  carryCaps?: boolean;
  /**
   * The sys_restart syscall number of this linux-cr kernel, when the table (by release, checked
   * against /proc/kallsyms) cannot tell it; else CR_CREDS_LINUX_CR_SYSCALLS. Never issued where
   * /proc/kallsyms lacks sys_restart.
   */
  sysRestartNr?: number;
  /**
   * A sandboxed restarter: where the caller's bounding set lacks capabilities the image holds
   * (or the caller has no_new_privs and the image not), restore everything else and list what
   * was left out (`unrestored`, with reasons) instead of refusing. Default false: refused.
   */
  allowPartial?: boolean;

  /** As child_process.spawn: one value for fds 0-2, or one entry per child fd. Default 'pipe'. */
  stdio?: StdioOption;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Default process.cwd(). */
  cwd?: string;
  /** argv[0] for the program (default: command). */
  argv0?: string;
  /** A session and process group of its own (setsid), as spawn's `detached`. Implies no cleanup. */
  detached?: boolean;
  /** Aborting it kills the program with killSignal; the handle emits 'error' and rejects with RestartAborted. */
  signal?: AbortSignal;
  /** Milliseconds before the program is killed with killSignal (result.timedOut). Default: none. */
  timeout?: number;
  /** The signal sent by timeout, signal, maxBuffer and cleanup. Default 'SIGTERM'. */
  killSignal?: NodeJS.Signals | number;
  /** Kill the program (killSignal) when this process exits normally. Default true unless detached. */
  cleanup?: boolean;
  /**
   * Kill the program (SIGKILL) when the caller dies, however it dies (SIGKILL too), as bwrap
   * --die-with-parent: armed with PR_SET_PDEATHSIG in the child right before execve (after the
   * creds change, which would clear it), the parent's death before that moment caught. Default
   * false, as child_process.spawn: the signal follows the THREAD that called restart() (a
   * worker_thread's exit kills the program), and an execve that changes ids or raises permitted
   * caps (set-uid/set-gid or file-capability programs) clears it (docs/restart.md).
   */
  dieWithParent?: boolean;
  /** Written to the program's stdin, which is then closed (needs stdin 'pipe'). */
  input?: string | Uint8Array;
  /** Collect piped stdout / stderr into the result. Default false (the streams are the caller's). */
  buffer?: boolean;
  /** Bytes collected per stream before the program is killed (result.isMaxBuffer). Default 100 MB. */
  maxBuffer?: number;
  /** The collected output as strings in this encoding, or 'buffer' for Buffers. Default 'utf8'. */
  encoding?: BufferEncoding | 'buffer';
  /** Reject with RestartExitError when the program fails (non-zero exit, signal, timeout, maxBuffer). Default false. */
  reject?: boolean;
}

/** Hooks for the test suite only (lib/restart/testing.ts); not part of the public options. */
export interface RestartTestHooks {
  /**
   * Take the linux-cr path (restart through sys_restart in the child) but call a named stand-in
   * instead of the syscall; the stand-in checks the image's magic, changes no creds and fails
   * with `errno` if given.
   */
  linuxCrStandIn?: boolean | { errno: number };
  /** newuidmap / newgidmap paths to use instead of the usual places (a missing path: not installed). */
  idmapHelpers?: IdmapHelperPaths;
}

// Every option name, once: the type makes adding an option without its name here a compile error.
const PUBLIC_NAMES: Record<keyof RestartOptions, true> = {
  task: true, pid: true, dryRun: true, carryCaps: true, sysRestartNr: true, allowPartial: true,
  stdio: true, env: true, cwd: true, argv0: true, detached: true,
  signal: true, timeout: true, killSignal: true, cleanup: true, dieWithParent: true, input: true,
  buffer: true, maxBuffer: true, encoding: true, reject: true,
};
const HOOK_NAMES: Record<keyof RestartTestHooks, true> = { linuxCrStandIn: true, idmapHelpers: true };

/** The options with their defaults filled in, as the handle uses them. */
export interface ResolvedSpawnOptions {
  stdio: StdioEntry[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  argv0: string | undefined;
  detached: boolean;
  dieWithParent: boolean;
  signal: AbortSignal | undefined;
  timeout: number | undefined;
  killSignal: number;
  cleanup: boolean;
  input: string | Uint8Array | undefined;
  buffer: boolean;
  maxBuffer: number;
  encoding: BufferEncoding | 'buffer';
  reject: boolean;
}

const DEFAULT_MAX_BUFFER = 100_000_000;

function bad(name: string, want: string, v: unknown): never {
  throw new TypeError(`restart: option ${name} must be ${want} (got ${typeof v === 'object' ? (v === null ? 'null' : 'an object') : JSON.stringify(v)})`);
}

function isStream(v: unknown): v is Stream {
  return v instanceof Stream;
}

/** A signal name or number as a signal number; TypeError for anything else. */
export function signalNumber(s: NodeJS.Signals | number | undefined, name = 'killSignal'): number {
  if (s === undefined) return constants.signals.SIGTERM;
  if (typeof s === 'number') {
    if (!Number.isInteger(s) || s < 0 || s > 64) bad(name, 'a signal name or number', s);
    return s;
  }
  const n = typeof s === 'string' ? (constants.signals as Record<string, number>)[s] : undefined;
  if (n === undefined) bad(name, "a signal name ('SIGTERM', ...) or number", s);
  return n;
}

function stdioEntries(o: StdioOption | undefined): StdioEntry[] {
  if (o === undefined || o === null) return ['pipe', 'pipe', 'pipe'];
  if (typeof o === 'string') {
    if (o !== 'pipe' && o !== 'ignore' && o !== 'inherit') bad('stdio', "'pipe', 'ignore', 'inherit' or an array", o);
    return [o, o, o];
  }
  if (!Array.isArray(o)) bad('stdio', "'pipe', 'ignore', 'inherit' or an array", o);
  const out: StdioEntry[] = [];
  const n = Math.max(3, o.length);
  for (let i = 0; i < n; i++) {
    const e = o[i];
    if (e === undefined || e === null) out.push(i < 3 ? 'pipe' : 'ignore');
    else if (e === 'pipe' || e === 'ignore' || e === 'inherit') out.push(e);
    else if (typeof e === 'number' && Number.isInteger(e) && e >= 0) out.push(e);
    else if (isStream(e)) out.push(e);
    else bad(`stdio[${i}]`, "'pipe', 'ignore', 'inherit', an fd or a stream", e);
  }
  return out;
}

/**
 * Checks every option (TypeError naming the first bad one) and fills in the defaults.
 * `hooks`: whether the test hooks are accepted (the internal entry only).
 */
export function resolveOptions(options: unknown, hooks: boolean): { spawn: ResolvedSpawnOptions; all: RestartOptions & RestartTestHooks } {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new TypeError('restart: options must be an object');
  const o = options as RestartOptions & RestartTestHooks;
  for (const k of Object.keys(o)) {
    if (k in PUBLIC_NAMES || (hooks && k in HOOK_NAMES)) continue;
    throw new TypeError(`restart: unknown option '${k}'`);
  }
  const opt = <T>(name: keyof RestartOptions, ok: (v: unknown) => boolean, want: string): T | undefined => {
    const v = o[name];
    if (v !== undefined && !ok(v)) bad(name, want, v);
    return v as T | undefined;
  };
  const bool = (v: unknown) => typeof v === 'boolean';
  const nonNegInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  opt('task', nonNegInt, 'a task index');
  opt('pid', nonNegInt, 'a pid');
  for (const k of ['dryRun', 'carryCaps', 'allowPartial', 'detached', 'cleanup', 'dieWithParent', 'buffer', 'reject'] as const) opt(k, bool, 'a boolean');
  opt('sysRestartNr', nonNegInt, 'a syscall number');
  const env = opt<NodeJS.ProcessEnv>('env', (v) => typeof v === 'object' && v !== null, 'an object');
  const cwd = opt<string>('cwd', (v) => typeof v === 'string' && v.length > 0, 'a path');
  const argv0 = opt<string>('argv0', (v) => typeof v === 'string', 'a string');
  const signal = opt<AbortSignal>('signal', (v) => typeof v === 'object' && v !== null && typeof (v as AbortSignal).aborted === 'boolean' && typeof (v as AbortSignal).addEventListener === 'function', 'an AbortSignal');
  const timeout = opt<number>('timeout', (v) => typeof v === 'number' && v > 0 && Number.isFinite(v), 'a positive number of milliseconds');
  const maxBuffer = opt<number>('maxBuffer', (v) => typeof v === 'number' && v > 0, 'a positive number of bytes');
  const input = opt<string | Uint8Array>('input', (v) => typeof v === 'string' || v instanceof Uint8Array, 'a string or a Uint8Array');
  const encoding = opt<BufferEncoding | 'buffer'>('encoding', (v) => v === 'buffer' || (typeof v === 'string' && Buffer.isEncoding(v)), "an encoding or 'buffer'");
  const killSignal = signalNumber(o.killSignal);
  const stdio = stdioEntries(o.stdio);
  if (input !== undefined && stdio[0] !== 'pipe') throw new TypeError("restart: option input needs stdin 'pipe' (stdio[0])");
  const detached = o.detached ?? false;
  return {
    all: o,
    spawn: {
      stdio,
      env: env ?? process.env,
      cwd: cwd ?? process.cwd(),
      argv0,
      detached,
      dieWithParent: o.dieWithParent ?? false,
      signal,
      timeout,
      killSignal,
      cleanup: o.cleanup ?? !detached,
      input,
      buffer: o.buffer ?? false,
      maxBuffer: maxBuffer ?? DEFAULT_MAX_BUFFER,
      encoding: encoding ?? 'utf8',
      reject: o.reject ?? false,
    },
  };
}
