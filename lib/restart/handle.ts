// The running, restarted program: pid, stdio streams, kill(), and its exit as a promise (the
// handle itself is awaitable). Exit is reported by the addon's pidfd watch.
import * as net from 'net';
import { constants } from 'os';
import type { Readable, Writable } from 'stream';
import type { NativeChild } from '../native/binding';
import type { Unrestored } from './partial';

export interface RestartExit {
  /** Exit status, or null when the program died by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function signalName(n: number | null): NodeJS.Signals | null {
  if (n === null) return null;
  const e = Object.entries(constants.signals).find(([, v]) => v === n);
  return (e?.[0] as NodeJS.Signals | undefined) ?? null;
}

export function signalNumber(s: NodeJS.Signals | number | undefined): number {
  if (s === undefined) return constants.signals.SIGTERM;
  if (typeof s === 'number') return s;
  const n = (constants.signals as Record<string, number>)[s];
  if (n === undefined) throw new TypeError(`unknown signal: ${s}`);
  return n;
}

function streamEnded(s: net.Socket | null): Promise<void> {
  if (!s) return Promise.resolve();
  return new Promise((resolve) => {
    if (s.destroyed) return resolve();
    s.once('close', () => resolve());
  });
}

export class RestartHandle implements PromiseLike<RestartExit> {
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Settles when the program has exited and its piped output has been read to the end. */
  readonly exited: Promise<RestartExit>;
  private exit: RestartExit | null = null;
  /** What allowPartial left out of the image, each with the reason; [] for a whole restart. */
  unrestored: readonly Unrestored[] = [];

  /** Built by restart(): `exitPromise` settles from the addon's exit callback. */
  constructor(
    private readonly child: NativeChild,
    exitPromise: Promise<{ code: number | null; signal: number | null }>,
    readonly command: string,
    readonly args: readonly string[],
  ) {
    this.pid = child.pid;
    const [i, o, e] = child.stdio;
    const stdin = i === null ? null : new net.Socket({ fd: i, readable: false, writable: true });
    const stdout = o === null ? null : new net.Socket({ fd: o, readable: true, writable: false });
    const stderr = e === null ? null : new net.Socket({ fd: e, readable: true, writable: false });
    // The program may exit without reading its input: that is not our error to throw.
    stdin?.on('error', () => undefined);
    this.stdin = stdin;
    this.stdout = stdout;
    this.stderr = stderr;
    this.exited = exitPromise.then(async ({ code, signal }) => {
      this.exit = { code, signal: signalName(signal) };
      await Promise.all([streamEnded(stdout), streamEnded(stderr)]);
      stdin?.destroy();
      return this.exit;
    });
  }

  /** Sends a signal (default SIGTERM) through the pidfd; false once the program has exited. */
  kill(signal?: NodeJS.Signals | number): boolean {
    return this.child.kill(signalNumber(signal));
  }

  /** Whether the program has exited (and been reaped). */
  get exitCode(): number | null {
    return this.exit?.code ?? null;
  }

  /** Let the event loop end while the program still runs (as ChildProcess.unref). */
  unref(): this {
    this.child.unref();
    return this;
  }

  ref(): this {
    this.child.ref();
    return this;
  }

  then<A = RestartExit, B = never>(
    onfulfilled?: ((value: RestartExit) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.exited.then(onfulfilled, onrejected);
  }
}
