// `cr-creds checkpoint`: live processes into an image. What it needs (the addon, the codec) is
// loaded when it runs, not when the CLI starts.
import type { Command } from '../command';
import { CliFailure, UsageError } from '../command';
import { choice, parseCommandArgs } from '../args';
import { dialectOption } from '../dialect-option';

export const checkpoint: Command = {
  name: 'checkpoint',
  summary: 'checkpoint the credentials of live processes into an image',
  synopsis: ['checkpoint PID... -o FILE [--tree] [--threads] [--compat linux-cr] [--dialect v21|v23] [--securebits-reader auto|bpf|ptrace] [--allow-unknown-securebits | --skip-securebits] [--progress | --quiet]'],
  description:
    'Reads the credentials of each PID (ids, groups, capability sets, securebits, no_new_privs and the chain of user namespaces) and writes them as one linux-cr image. Securebits are read by a BPF task iterator where the caller may load one (the task is never stopped), else inside each task over ptrace, which leaves it running and untraced.',
  operands: 'pid',
  options: [
    { name: 'output', short: 'o', value: 'FILE', help: "the image to write (required), atomically; '-' writes it to stdout (refused on a terminal)" },
    { name: 'tree', help: 'the first PID and all its descendants (one PID only)' },
    { name: 'threads', help: 'every thread as a task of its own (threads can differ)' },
    { name: 'compat', value: 'linux-cr', choices: ['linux-cr'], help: 'a strictly series-compatible image: fail on what the seed format cannot hold' },
    { name: 'dialect', value: 'v21|v23', choices: ['v21', 'v23'], help: "the series' record numbering: v21 (2010, the seed's; default) or v23 (2011); a kernel's own checkpoint keeps its dialect unless given" },
    {
      name: 'securebits-reader',
      value: 'auto|bpf|ptrace',
      choices: ['auto', 'bpf', 'ptrace'],
      help: 'how securebits are read: bpf (a BPF task iterator; needs CAP_BPF and CAP_PERFMON), ptrace (inside each task), auto (bpf where it can be used; default, or CR_CREDS_SECUREBITS_READER)',
    },
    { name: 'allow-unknown-securebits', help: 'where securebits cannot be read (ptrace refused), record them as unknown instead of failing' },
    { name: 'skip-securebits', help: 'do not read securebits at all (no process is stopped or traced): record them all as unknown' },
    { name: 'progress', help: 'show progress on stderr even when it is not a terminal, or under CI' },
    { name: 'quiet', help: 'never show progress (default: on a terminal only)' },
  ],
  notes: ['Exit status: 0 written; 1 a process is gone, unreadable or not expressible (nothing written); 2 usage.'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(this, argv);
    if (positionals.length === 0) throw new UsageError('no PID given');
    const pids = positionals.map((p) => {
      if (!/^[1-9]\d*$/.test(p)) throw new UsageError(`not a pid: '${p}'`);
      return Number(p);
    });
    const dup = pids.find((p, i) => pids.indexOf(p) !== i);
    if (dup !== undefined) throw new UsageError(`pid ${dup} given twice`);
    if (values.tree && pids.length !== 1) throw new UsageError('--tree takes exactly one PID');
    const compat = values.compat === undefined ? undefined : choice('--compat', values.compat as string, ['linux-cr'] as const);
    const dialect = dialectOption(values.dialect as string | undefined);
    const reader = values['securebits-reader'];
    const securebitsReader = reader === undefined ? undefined : choice('--securebits-reader', reader as string, ['auto', 'bpf', 'ptrace'] as const);
    const out = values.output as string | undefined;
    if (out === undefined) throw new UsageError('-o FILE is required');
    if (values.progress && values.quiet) throw new UsageError('--progress and --quiet exclude each other');
    if (values['allow-unknown-securebits'] && values['skip-securebits'])
      throw new UsageError('--allow-unknown-securebits and --skip-securebits exclude each other');
    if (values['securebits-reader'] !== undefined && values['skip-securebits'])
      throw new UsageError('--securebits-reader and --skip-securebits exclude each other');

    if (values.tree || values.threads || pids.length > 1) (await import('../heap-flags')).setCliHeapFlags();
    const { checkImageOutput, writeImageOutput } = await import('../image-files');
    checkImageOutput(io, out);
    const { progressFor, withProgress } = await import('../progress');
    const { checkpoint: checkpointPids, checkpointTree, CheckpointError } = await import('../../checkpoint');
    const { encode } = await import('../../format/encode');
    const progress = progressFor(io, values as { progress?: boolean; quiet?: boolean });
    const cache = await import('../linux-cr-cache');
    const options = {
      kernel: cache.linuxCrKnownAbsent() ? ('never' as const) : ('auto' as const),
      threads: Boolean(values.threads),
      compat,
      unknownSecurebits: values['skip-securebits'] ? ('skip' as const) : values['allow-unknown-securebits'] ? ('mark' as const) : ('fail' as const),
      securebitsReader,
      onProgress: progress.enabled
        ? (p: { phase: 'tree' | 'read'; done: number; total: number | null }) =>
            p.phase === 'tree' ? progress.count('finding processes:', p.done) : progress.count('reading processes:', p.done, p.total ?? undefined)
        : undefined,
    };
    let bytes: Uint8Array;
    try {
      // The progress line is erased before any message or output: the terminal is left as it was.
      const image = await withProgress(progress, () => (values.tree ? checkpointTree(pids[0], options) : checkpointPids(pids, options)));
      bytes = encode(image, { compat, dialect });
      if (options.kernel === 'auto' && !(await import('../../native/binding')).native().linuxCrAvailable()) cache.rememberLinuxCrAbsent();
    } catch (e) {
      if (e instanceof CheckpointError && e.code === 'ERR_SECUREBITS_READER_UNAVAILABLE')
        throw new CliFailure(`${e.message}; --securebits-reader=ptrace reads them over ptrace`);
      if (e instanceof CheckpointError && e.code === 'ERR_SECUREBITS_UNREADABLE')
        throw new CliFailure(`${e.message.replace(/; allow unknown.*$/, '')}; pass --allow-unknown-securebits to record them as unknown`);
      throw e;
    }
    await writeImageOutput(io, out, bytes);
    return 0;
  },
};
