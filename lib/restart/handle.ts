// The running, restarted program, as a process manager expects it: the properties and events of
// a ChildProcess ('spawn', 'exit', 'close', 'error' in that order; pid, exitCode, signalCode,
// killed, stdio, kill, ref, unref), and a promise (the handle is awaitable) that settles when the
// program has exited, without waiting for anyone to read its pipes. Exit is reported by the
// addon's pidfd watch.
import { EventEmitter } from 'events';
import { constants } from 'os';
import type { Readable, Writable } from 'stream';
import type { NativeChild, NativeStdio } from '../native/binding';
import { stdioPlan, wireStreams, type StdioStream, type WiredStreams } from './child-streams';
import { killOnExit } from './cleanup';
import { RestartAborted, RestartExitError, type RestartResult } from './errors';
import { signalNumber, type ResolvedSpawnOptions } from './options';
import type { Unrestored } from './partial';

export { signalNumber };

export function signalName(n: number | null): NodeJS.Signals | null {
  if (n === null) return null;
  const e = Object.entries(constants.signals).find(([, v]) => v === n);
  return (e?.[0] as NodeJS.Signals | undefined) ?? null;
}

/** Starts the program (the addon's spawn); throws what the addon throws, already typed. */
export type Starter = (stdio: NativeStdio[], onExit: (code: number | null, signal: number | null) => void) => NativeChild;

interface Collected {
  chunks: Buffer[];
  bytes: number;
  done: Promise<void>;
}

export interface RestartHandle {
  on(event: 'spawn', listener: () => void): this;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'spawn', listener: () => void): this;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

export class RestartHandle extends EventEmitter implements PromiseLike<RestartResult> {
  /** The program's pid; undefined when it could not be started. */
  readonly pid: number | undefined;
  /** The exit status once exited (null before, or after death by a signal). */
  exitCode: number | null = null;
  /** The signal that ended the program, once exited. */
  signalCode: NodeJS.Signals | null = null;
  /** What allowPartial left out of the image, each with the reason; [] for a whole restart. */
  unrestored: readonly Unrestored[] = [];
  /** Whether kill() (or timeout, signal, maxBuffer, cleanup) delivered a signal. */
  killed = false;
  readonly stdin: Writable | null = null;
  readonly stdout: Readable | null = null;
  readonly stderr: Readable | null = null;
  /** One entry per child fd: our end of each 'pipe' (fds 3 and up: a duplex socket), else null. */
  readonly stdio: (StdioStream | null)[];
  readonly spawnfile: string;
  readonly spawnargs: string[];

  private readonly child: NativeChild | null = null;
  private readonly promise: Promise<RestartResult>;
  private readonly opts: ResolvedSpawnOptions;
  private timedOut = false;
  private canceled: RestartAborted | null = null;
  private maxBuffered = false;
  private release: (() => void)[] = [];

  /** Built by restart(): `start` runs the addon's spawn. */
  constructor(readonly command: string, readonly args: readonly string[], opts: ResolvedSpawnOptions, start: Starter) {
    super();
    this.opts = opts;
    this.spawnfile = command;
    this.spawnargs = [opts.argv0 ?? command, ...args];
    this.stdio = opts.stdio.map(() => null);
    let settle!: (r: RestartResult) => void;
    let fail!: (e: unknown) => void;
    this.promise = new Promise<RestartResult>((resolve, reject) => ((settle = resolve), (fail = reject)));
    // The rejection is the caller's to observe by awaiting (or by an 'error' listener): an
    // unobserved one must not end the process.
    this.promise.catch(() => undefined);

    if (opts.signal?.aborted) {
      this.notStarted(new RestartAborted('restart aborted before the program started: nothing was started', { cause: opts.signal.reason }), fail);
      this.pid = undefined;
      return;
    }
    const plan = stdioPlan(opts.stdio);
    let exit: { code: number | null; signal: number | null } | null = null;
    let onExit: () => void = () => undefined;
    let child: NativeChild;
    try {
      child = start(plan.native, (code, signal) => {
        exit = { code, signal };
        onExit();
      });
    } catch (e) {
      this.notStarted(e, fail);
      this.pid = undefined;
      return;
    }
    this.child = child;
    this.pid = child.pid;

    const wired = wireStreams(child.stdio, plan.joined, this.stdio.length);
    this.stdio = wired.stdio;
    this.stdin = (this.stdio[0] as Writable | null) ?? null;
    this.stdout = (this.stdio[1] as Readable | null) ?? null;
    this.stderr = (this.stdio[2] as Readable | null) ?? null;
    const collected: (Collected | null)[] = [1, 2].map((i) => {
      const s = child.stdio[i] === null || plan.joined[i] ? null : (this.stdio[i] as Readable);
      return opts.buffer && s ? this.collect(s) : null;
    });
    if (opts.input !== undefined) this.stdin?.end(opts.input);
    this.armLimits();
    onExit = () => this.exited(exit!, wired, collected, settle, fail);
    process.nextTick(() => this.emit('spawn'));
  }

  /** As child_process: reported asynchronously, 'error' then 'close'; nothing was started. */
  private notStarted(e: unknown, fail: (e: unknown) => void): void {
    setImmediate(() => {
      this.emitError(e);
      this.emit('close', null, null);
      fail(e);
    });
  }

  /** timeout, signal and cleanup: each kills the program; each is undone at exit. */
  private armLimits(): void {
    const opts = this.opts;
    if (opts.timeout !== undefined) {
      const t = setTimeout(() => {
        this.timedOut = true;
        this.kill(opts.killSignal);
      }, opts.timeout);
      t.unref();
      this.release.push(() => clearTimeout(t));
    }
    const signal = opts.signal;
    if (signal) {
      const onAbort = () => {
        this.canceled = new RestartAborted('restart aborted: the program was killed', { cause: signal.reason });
        this.emitError(this.canceled);
        this.kill(opts.killSignal);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.release.push(() => signal.removeEventListener('abort', onAbort));
    }
    if (opts.cleanup) this.release.push(killOnExit(() => this.kill(opts.killSignal)));
  }

  /** The program exited: 'exit', then 'close' once every pipe has closed; the promise settles once the output is collected. */
  private exited(exit: { code: number | null; signal: number | null }, wired: WiredStreams, collected: (Collected | null)[],
    settle: (r: RestartResult) => void, fail: (e: unknown) => void): void {
    this.exitCode = exit.code;
    this.signalCode = signalName(exit.signal);
    for (const r of this.release.splice(0)) r();
    // As ChildProcess: our write end is closed, output nobody reads is drained away (so the
    // pipes close and no fd is held), and 'close' follows 'exit' once every pipe has closed.
    wired.stdin?.destroy();
    for (const s of wired.sockets) if (s.readable && s.listenerCount('data') === 0 && s.listenerCount('readable') === 0) s.resume();
    this.emit('exit', this.exitCode, this.signalCode);
    void wired.closed.then(() => this.emit('close', this.exitCode, this.signalCode));
    const finish = () => {
      const r = this.result(collected);
      if (this.canceled) fail(this.canceled);
      else if (this.opts.reject && r.failed) fail(new RestartExitError(r));
      else settle(r);
    };
    if (collected.some((c) => c)) void Promise.all(collected.map((c) => c?.done)).then(finish);
    else finish();
  }

  private collect(s: Readable): Collected {
    const c: Collected = { chunks: [], bytes: 0, done: Promise.resolve() };
    c.done = new Promise<void>((resolve) => {
      s.on('data', (d: Buffer) => {
        if (this.maxBuffered) return;
        const room = this.opts.maxBuffer - c.bytes;
        if (d.length > room) {
          c.chunks.push(d.subarray(0, room));
          c.bytes += room;
          this.maxBuffered = true;
          this.kill(this.opts.killSignal);
          return;
        }
        c.chunks.push(d);
        c.bytes += d.length;
      });
      s.once('close', () => resolve());
    });
    return c;
  }

  private result(collected: (Collected | null)[]): RestartResult {
    const text = (c: Collected | null) => {
      if (!c) return undefined;
      const b = Buffer.concat(c.chunks);
      return this.opts.encoding === 'buffer' ? b : b.toString(this.opts.encoding);
    };
    const exitCode = this.exitCode;
    const signal = this.signalCode;
    return {
      command: this.command,
      args: [...this.args],
      pid: this.pid as number,
      exitCode,
      signal,
      stdout: text(collected[0]),
      stderr: text(collected[1]),
      failed: exitCode !== 0 || signal !== null || this.timedOut || this.maxBuffered,
      timedOut: this.timedOut,
      isCanceled: this.canceled !== null,
      isMaxBuffer: this.maxBuffered,
    };
  }

  /** 'error' goes to listeners; with none, the promise alone carries it (as execa's subprocess). */
  private emitError(e: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  /**
   * Sends a signal (default SIGTERM) through the pidfd: never to another process that reuses
   * the pid. True when sent; false when not started or already exited.
   */
  kill(signal?: NodeJS.Signals | number): boolean {
    if (!this.child || this.exitCode !== null || this.signalCode !== null) return false;
    const sent = this.child.kill(signalNumber(signal, 'kill signal'));
    if (sent) this.killed = true;
    return sent;
  }

  /** Let the event loop end while the program still runs (as ChildProcess.unref). */
  unref(): this {
    this.child?.unref();
    return this;
  }

  ref(): this {
    this.child?.ref();
    return this;
  }

  then<A = RestartResult, B = never>(
    onfulfilled?: ((value: RestartResult) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: any) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.promise.then(onfulfilled, onrejected);
  }

  catch<B = never>(onrejected?: ((reason: any) => B | PromiseLike<B>) | null): Promise<RestartResult | B> {
    return this.promise.catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<RestartResult> {
    return this.promise.finally(onfinally);
  }
}
