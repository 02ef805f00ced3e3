import { parseArgs } from 'util';
import type { Command } from '../command';
import { CliFailure, UsageError } from '../command';
import { dialectOption, usageErrors } from '../args';
import { checkImageOutput, writeImageOutput } from '../image-files';
import { checkpoint as checkpointPids, checkpointTree, CheckpointError, type CheckpointProgress } from '../../checkpoint';
import { encode } from '../../format';
import { progressFor, withProgress } from '../progress';

export const checkpoint: Command = {
  name: 'checkpoint',
  summary: 'checkpoint the credentials of live processes into an image',
  usage:
    'cr-creds checkpoint PID... [--tree] [--threads] [--compat=linux-cr] [--dialect=v21|v23] [--allow-unknown-securebits|--skip-securebits] [--progress|--quiet] -o FILE\n' +
    '  --tree                      the first PID and all its descendants (one PID only)\n' +
    '  --threads                   every thread as a task of its own (threads can differ)\n' +
    '  --compat=linux-cr           a strictly series-compatible image; fail on what it cannot hold\n' +
    "  --dialect=v21|v23           the series' record numbering: v21 (2010, the seed's; default) or\n" +
    "                              v23 (2011); a kernel's own checkpoint keeps its dialect unless given\n" +
    '  --allow-unknown-securebits  where ptrace is refused, record securebits as unknown\n' +
    '  --skip-securebits           do not read securebits (no process is stopped or traced):\n' +
    '                              record them all as unknown\n' +
    "  --progress                  show progress on stderr even when it is no terminal, or under CI\n" +
    '  --quiet                     never show progress (default: on a terminal only)\n' +
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
          dialect: { type: 'string' },
          'allow-unknown-securebits': { type: 'boolean' },
          'skip-securebits': { type: 'boolean' },
          output: { type: 'string', short: 'o' },
          progress: { type: 'boolean' },
          quiet: { type: 'boolean' },
        },
      }),
    );
    if (positionals.length === 0) throw new UsageError('no PID given');
    const pids = positionals.map((p) => {
      if (!/^[1-9]\d*$/.test(p)) throw new UsageError(`not a pid: '${p}'`);
      return Number(p);
    });
    const dup = pids.find((p, i) => pids.indexOf(p) !== i);
    if (dup !== undefined) throw new UsageError(`pid ${dup} given twice`);
    if (values.tree && pids.length !== 1) throw new UsageError('--tree takes exactly one PID');
    if (values.compat !== undefined && values.compat !== 'linux-cr')
      throw new UsageError(`unknown --compat '${values.compat}' (only linux-cr)`);
    const dialect = dialectOption(values.dialect);
    if (values.output === undefined) throw new UsageError('-o FILE is required');
    if (values.progress && values.quiet) throw new UsageError('--progress and --quiet exclude each other');
    if (values['allow-unknown-securebits'] && values['skip-securebits'])
      throw new UsageError('--allow-unknown-securebits and --skip-securebits exclude each other');
    checkImageOutput(io, values.output);

    const progress = progressFor(io, values);
    const options = {
      threads: values.threads ?? false,
      compat: values.compat as 'linux-cr' | undefined,
      unknownSecurebits: values['skip-securebits'] ? ('skip' as const) : values['allow-unknown-securebits'] ? ('mark' as const) : ('fail' as const),
      onProgress: progress.enabled
        ? (p: CheckpointProgress) =>
            p.phase === 'tree' ? progress.count('finding processes:', p.done) : progress.count('reading processes:', p.done, p.total)
        : undefined,
    };
    let bytes: Uint8Array;
    try {
      // The progress line is erased before any message or output: the terminal is left as it was.
      const image = await withProgress(progress, () => (values.tree ? checkpointTree(pids[0], options) : checkpointPids(pids, options)));
      bytes = encode(image, { compat: options.compat, dialect });
    } catch (e) {
      if (e instanceof CheckpointError && e.code === 'ERR_SECUREBITS_UNREADABLE')
        throw new CliFailure(`${e.message.replace(/; allow unknown.*$/, '')}; pass --allow-unknown-securebits to record them as unknown`);
      throw e;
    }
    await writeImageOutput(io, values.output, bytes);
    return 0;
  },
};
