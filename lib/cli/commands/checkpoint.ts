import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import type { Command } from '../command';
import { CliFailure, UsageError } from '../command';
import { usageErrors } from '../args';
import { checkpoint as checkpointPids, checkpointTree, CheckpointError } from '../../checkpoint';
import { encode } from '../../format';

/** Writes atomically: a temp file beside the target, then rename, so no reader sees half an image. */
function writeAtomic(file: string, bytes: Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, bytes, { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new CliFailure(`cannot write ${file}: ${(e as Error).message}`);
  }
}

export const checkpoint: Command = {
  name: 'checkpoint',
  summary: 'checkpoint the credentials of live processes into an image',
  usage:
    'cr-creds checkpoint PID... [--tree] [--threads] [--compat=linux-cr] [--allow-unknown-securebits] -o FILE\n' +
    '  --tree                      the first PID and all its descendants (one PID only)\n' +
    '  --threads                   every thread as a task of its own (threads can differ)\n' +
    '  --compat=linux-cr           a strictly series-compatible image; fail on what it cannot hold\n' +
    '  --allow-unknown-securebits  where ptrace is refused, record securebits as unknown\n' +
    "  -o FILE                     the image; '-' writes it to stdout",
  async run(argv, io) {
    const { values, positionals } = usageErrors(() =>
      parseArgs({
        args: argv,
        allowPositionals: true,
        strict: true,
        options: {
          tree: { type: 'boolean' },
          threads: { type: 'boolean' },
          compat: { type: 'string' },
          'allow-unknown-securebits': { type: 'boolean' },
          output: { type: 'string', short: 'o' },
        },
      }),
    );
    if (positionals.length === 0) throw new UsageError('no PID given');
    const pids = positionals.map((p) => {
      if (!/^[1-9]\d*$/.test(p)) throw new UsageError(`not a pid: '${p}'`);
      return Number(p);
    });
    if (values.tree && pids.length !== 1) throw new UsageError('--tree takes exactly one PID');
    if (values.compat !== undefined && values.compat !== 'linux-cr')
      throw new UsageError(`unknown --compat '${values.compat}' (only linux-cr)`);
    if (values.output === undefined) throw new UsageError('-o FILE is required');
    if (values.output === '-' && io.isTTY && (io.stdout as { isTTY?: boolean }).isTTY)
      throw new UsageError('refusing to write a binary image to a terminal');

    const options = {
      threads: values.threads ?? false,
      compat: values.compat as 'linux-cr' | undefined,
      unknownSecurebits: values['allow-unknown-securebits'] ? ('mark' as const) : ('fail' as const),
    };
    let bytes: Uint8Array;
    try {
      const image = values.tree ? await checkpointTree(pids[0], options) : await checkpointPids(pids, options);
      bytes = encode(image, { compat: options.compat });
    } catch (e) {
      if (e instanceof CheckpointError && e.code === 'ERR_SECUREBITS_UNREADABLE')
        throw new CliFailure(`${e.message.replace(/; allow unknown.*$/, '')}; pass --allow-unknown-securebits to record them as unknown`);
      throw e;
    }
    if (values.output === '-') {
      await new Promise<void>((resolve, reject) => io.stdout.write(bytes, (err) => (err ? reject(err) : resolve())));
    } else {
      writeAtomic(values.output, bytes);
    }
    return 0;
  },
};
