// Progress of long work (a checkpoint of thousands of processes, reading a big image), on
// stderr. It shows only on a terminal: one line rewritten in place, at most 10 times a second,
// erased when the work ends, so nothing of it stays in the scrollback or mixes with messages.
// Piped stderr, CI (the CI environment variable) and --quiet keep it silent; --progress forces
// it on, and on a pipe that means plain lines, at most one a second, the last state at the end.
import type { Writable } from 'stream';
import type { CliIo } from './command';

type Stream = Writable & { isTTY?: boolean; columns?: number };

export interface ProgressOptions {
  /** --progress: show even when stderr is no terminal or CI is set. */
  force?: boolean;
  /** --quiet: never show. */
  quiet?: boolean;
  /** The environment to read CI from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Clock in ms (tests). */
  now?: () => number;
  /** Least time between two updates on a terminal (default 100 ms: at most 10 a second). */
  intervalMs?: number;
  /** Least time between two lines when forced onto a pipe (default 1000 ms). */
  lineIntervalMs?: number;
}

/** CI=... as most CI services set it; CI='' / '0' / 'false' do not count. */
export function isCi(env: Readonly<Record<string, string | undefined>>): boolean {
  const v = env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

export type ProgressMode = 'tty' | 'lines' | 'off';

export class Progress {
  readonly mode: ProgressMode;
  private readonly now: () => number;
  private readonly interval: number;
  private last = Number.NEGATIVE_INFINITY;
  /** The newest text, when it has not been written yet. */
  private pending: string | undefined;
  /** A line is on the terminal (tty mode) that end() must erase. */
  private shown = false;
  private ended = false;
  /** The text on display (or last written as a line). */
  private written: string | undefined;

  constructor(
    private readonly stream: Stream | null,
    options: ProgressOptions = {},
  ) {
    const tty = stream?.isTTY === true;
    const env = options.env ?? process.env;
    if (options.quiet || stream === null) this.mode = 'off';
    else if (options.force) this.mode = tty ? 'tty' : 'lines';
    else this.mode = tty && !isCi(env) ? 'tty' : 'off';
    this.now = options.now ?? (() => performance.now());
    this.interval = this.mode === 'lines' ? (options.lineIntervalMs ?? 1000) : (options.intervalMs ?? 100);
  }

  get enabled(): boolean {
    return this.mode !== 'off' && !this.ended;
  }

  /** The current state, e.g. "reading processes 120/4000"; written unless the last write was too recent. */
  update(text: string): void {
    if (!this.enabled) return;
    if (text === this.written) {
      this.pending = undefined;
      return;
    }
    const t = this.now();
    if (t - this.last < this.interval) {
      this.pending = text;
      return;
    }
    this.last = t;
    this.pending = undefined;
    this.write(text);
  }

  /** "LABEL done/total (pct%)", or "LABEL done" when the total is unknown. */
  count(label: string, done: number, total?: number | null): void {
    if (!this.enabled) return;
    if (total === undefined || total === null) this.update(`${label} ${done}`);
    else this.update(`${label} ${done}/${total} (${total > 0 ? Math.floor((100 * done) / total) : 100}%)`);
  }

  /** Ends the display: a terminal line is erased; on a pipe the last unwritten state is written. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.mode === 'tty' && this.shown) this.stream?.write('\r\x1b[K');
    else if (this.mode === 'lines' && this.pending !== undefined) this.stream?.write(`${this.pending}\n`);
    this.shown = false;
    this.pending = undefined;
  }

  private write(text: string): void {
    this.written = text;
    const clean = text.replace(/[\u0000-\u001f\u007f]/g, ' ');
    if (this.mode === 'lines') {
      this.stream?.write(`${clean}\n`);
      return;
    }
    // Never wider than the terminal: a wrapped line could not be rewritten in place.
    const cols = this.stream?.columns && this.stream.columns > 1 ? this.stream.columns - 1 : 79;
    this.stream?.write(`\r${clean.length > cols ? clean.slice(0, cols - 1) + '…' : clean}\x1b[K`);
    this.shown = true;
  }
}

/** The reporter for a command, from its --progress / --quiet flags and the CLI's io. */
export function progressFor(io: CliIo, flags: { progress?: boolean; quiet?: boolean }): Progress {
  // Where it cannot show, stderr is not touched (making process.stderr costs start-up time).
  const off = flags.quiet || (!flags.progress && (!io.isTTY || isCi(io.env ?? process.env)));
  return new Progress(off ? null : (io.stderr as Stream), { force: flags.progress, quiet: flags.quiet, env: io.env });
}

/** Runs work with a reporter that is ended (its line erased) however the work ends. */
export async function withProgress<T>(progress: Progress, work: (p: Progress) => Promise<T>): Promise<T> {
  try {
    return await work(progress);
  } finally {
    progress.end();
  }
}
