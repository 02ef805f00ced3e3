// What every CLI subcommand is, and the errors that choose the exit code.
//
// Exit codes everywhere: 0 success, 1 failure (invalid image, denied, process gone), 2 usage.
import type { Readable, Writable } from 'stream';

export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Whether stdout/stderr are terminals (progress shows only on a terminal). */
  isTTY: boolean;
  /** The environment (CI silences progress; graphviz is looked up in its PATH). Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface Command {
  name: string;
  /** One line for `cr-creds --help`. */
  summary: string;
  /** The usage text shown by `cr-creds NAME --help` and on a usage error. */
  usage: string;
  /** Returns the exit code. Throw UsageError or CliFailure for expected failures. */
  run(argv: string[], io: CliIo): Promise<number>;
}

/** Wrong arguments: exit 2, usage shown. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An expected failure (bad image, denial, vanished process): exit 1, message, no stack. */
export class CliFailure extends Error {
  override name = 'CliFailure';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
