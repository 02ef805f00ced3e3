#!/usr/bin/env node
// cr-creds: the command-line entry. Messages go to stderr as "cr-creds: ..."; stdout carries
// only what a command produces. No stack trace for an expected failure.
import { commands } from './commands';
import { CliFailure, UsageError, type CliIo } from './command';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: cr-creds <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "run 'cr-creds <command> --help' for a command's options",
  ].join('\n');
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(help() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    io.stdout.write(require('../../package.json').version + '\n');
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.stderr.write(`cr-creds: unknown command '${name}'\n${help()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`usage: ${cmd.usage}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`cr-creds: ${e.message}\nusage: ${cmd.usage}\n`);
      return 2;
    }
    if (e instanceof CliFailure) {
      io.stderr.write(`cr-creds: ${e.message}\n`);
      return e.exitCode;
    }
    // Typed library errors (format, denial, system) carry their own clear message.
    const err = e as Error & { code?: string };
    if (err && typeof err.message === 'string' && (err.code || err.name !== 'Error')) {
      io.stderr.write(`cr-creds: ${err.message}\n`);
      return 1;
    }
    throw e; // a bug: let Node print the stack
  }
}

if (require.main === module) {
  const io: CliIo = {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: Boolean(process.stderr.isTTY),
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
