// What every CLI subcommand is, and the errors that choose the exit code.
//
// Exit codes everywhere: 0 success, 1 failure (invalid image, denied, process gone), 2 usage.
// A command is data first: its synopsis, its options with their help, its notes. The parser
// (args.ts), `--help` (help.ts), the shell completions and the man page are all made from it, so
// an option added to a command's `options` is parsed, explained and completed at once.
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

/**
 * What the CLI hands a command beside its arguments: the list of all commands comes from the
 * CLI, so a command that lists them (completion) does not import the list that holds it.
 */
export interface CliContext {
  /** Every command, in the order `cr-creds --help` lists them (their modules loaded). */
  commands(): Promise<readonly Command[]>;
}

/** One option of a command. */
export interface OptionSpec {
  /** The long name, without dashes ('output'). */
  name: string;
  /** One letter ('o'), if it has a short form. */
  short?: string;
  /** A placeholder for the value ('FILE', 'N'); absent: a flag. */
  value?: string;
  /** The values it takes, for --help and completion ('auto', 'always', ...). */
  choices?: readonly string[];
  /** What it does: one or more sentences; wrapped by --help. */
  help: string;
}

/** What a command's operands are, for shell completion. */
export type OperandKind = 'file' | 'pid' | 'dir' | 'command' | 'word' | 'none';

export interface Command {
  name: string;
  /** One line for `cr-creds --help`. */
  summary: string;
  /** Synopsis lines, each without the leading 'cr-creds '. */
  synopsis: readonly string[];
  /** What it does, in a few sentences (shown under the synopsis). */
  description: string;
  options: readonly OptionSpec[];
  /** Paragraphs after the options (input, output, exit status). */
  notes?: readonly string[];
  operands: OperandKind;
  /** Returns the exit code. Throw UsageError or CliFailure for expected failures. */
  run(argv: string[], io: CliIo, cli: CliContext): Promise<number>;
}

/** Wrong arguments: exit 2, synopsis shown. */
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
