#!/usr/bin/env node
// cr-creds: the command-line entry. Messages go to stderr as "cr-creds: ..."; stdout carries
// only what a command produces. No stack trace for an expected failure. Only the command named
// is loaded at start (its data); it loads what it runs (the addon, the codec, protobufjs).
import * as fs from 'fs';
import { loadCommand } from './commands/by-name';
import type { CliIo, Command } from './command';

/** --help's text and the usage lines, made only when shown. */
const help = () => import('./help');

function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require('../../package.json') as { version: string }).version;
}

/** Every command, for --help and completion (the list loads every command's module). */
async function allCommands(): Promise<readonly Command[]> {
  return (await import('./commands')).commands;
}

/** A reader of our stdout went away (`| head`): stop quietly, as a program killed by SIGPIPE. */
const EPIPE_EXIT = 128 + 13;

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write((await help()).mainHelp(await allCommands()));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`cr-creds ${version()}\n`);
    return 0;
  }
  const cmd = await loadCommand(name);
  if (!cmd) {
    io.stderr.write(`cr-creds: unknown command '${name}'\nTry 'cr-creds --help' for the commands.\n`);
    return 2;
  }
  // --help anywhere before a `--` (after it, the words are restart's CMD's own).
  const dash = rest.indexOf('--');
  const head = dash < 0 ? rest : rest.slice(0, dash);
  if (head.includes('--help') || head.includes('-h')) {
    io.stdout.write((await help()).commandHelp(cmd));
    return 0;
  }
  try {
    return await cmd.run(rest, io, { commands: allCommands });
  } catch (e) {
    // Loaded by now (every command's module uses it), as the command's bundle registered it.
    const { CliFailure, UsageError } = await import('./command');
    if (e instanceof UsageError) {
      io.stderr.write(`cr-creds: ${e.message}\n${(await help()).shortUsage(cmd)}`);
      return 2;
    }
    if (e instanceof CliFailure) {
      io.stderr.write(`cr-creds: ${e.message}\n`);
      return e.exitCode;
    }
    if ((e as { code?: string })?.code === 'EPIPE') return EPIPE_EXIT;
    // Typed library errors (format, denial, system) carry their own clear message.
    const { messageOf } = await import('./messages');
    const message = messageOf(e);
    if (message !== null) {
      io.stderr.write(`cr-creds: ${message}\n`);
      return 1;
    }
    throw e; // a bug: let Node print the stack
  }
}

if (require.main === module) {
  // The standard streams are made when first touched (a stream each, and their modules): only
  // those a command uses.
  let stdoutSeen = false;
  const io: CliIo = {
    get stdin() {
      return process.stdin;
    },
    get stdout() {
      if (!stdoutSeen) {
        stdoutSeen = true;
        process.stdout.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'EPIPE') process.exit(EPIPE_EXIT);
          throw e;
        });
      }
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
    get isTTY() {
      // Not a character device: no terminal, known without making process.stderr.
      try {
        if (!fs.fstatSync(2).isCharacterDevice()) return false;
      } catch {
        return false;
      }
      return Boolean(process.stderr.isTTY);
    },
    env: process.env,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`cr-creds: internal error: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 70;
    },
  );
}
