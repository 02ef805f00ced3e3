// `cr-creds inspect`: an image as text, JSON, DOT or SVG. The renderers are loaded when it runs.
import type { CliIo, Command } from '../command';
import { CliFailure, UsageError } from '../command';
import { choice, parseCommandArgs } from '../args';

/** DOT through Graphviz's `dot -Tsvg`, found in the PATH of the CLI's environment. */
async function graphvizSvg(dot: string, io: CliIo): Promise<string> {
  const { spawnSync } = await import('child_process');
  const r = spawnSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8', env: { ...(io.env ?? process.env) }, maxBuffer: 1 << 30 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliFailure("--layout=graphviz: Graphviz's 'dot' is not installed (leave out --layout for the built-in renderer)");
    throw new CliFailure(`--layout=graphviz: cannot run dot: ${r.error.message}`);
  }
  if (r.status !== 0) throw new CliFailure(`--layout=graphviz: dot failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim()}`);
  return r.stdout;
}

function* withNewline(pieces: Iterable<string>): Generator<string> {
  yield* pieces;
  yield '\n';
}

export const inspect: Command = {
  name: 'inspect',
  summary: 'show the credentials held in a linux-cr image (readable, --json, or a picture: --dot, --svg)',
  synopsis: ['inspect [FILE | -] [--json | --dot | --svg [--layout builtin|graphviz]] [--collapse auto|always|never] [--progress | --quiet]'],
  description:
    'Prints what an image holds: its header, per task the real and effective cred (ids, groups, each capability set by name and as 16 hex digits, securebits by name) and the user-namespace tree. FILE defaults to stdin.',
  operands: 'file',
  options: [
    { name: 'json', help: 'the documented JSON form (docs/inspect-json.md)' },
    { name: 'dot', help: 'the object graph as Graphviz DOT (docs/inspect-graph.md)' },
    { name: 'svg', help: 'the object graph as a self-contained SVG' },
    { name: 'layout', value: 'builtin|graphviz', choices: ['builtin', 'graphviz'], help: "with --svg: drawn by the built-in renderer (default) or by Graphviz's dot (must be installed)" },
    { name: 'collapse', value: 'auto|always|never', choices: ['auto', 'always', 'never'], help: 'with --dot or --svg: one node for tasks with identical creds (auto: above 50 tasks)' },
    { name: 'progress', help: 'show progress of reading a big file even when stderr is not a terminal, or under CI' },
    { name: 'quiet', help: 'never show progress (default: on a terminal only)' },
  ],
  notes: ['Exit status: 0 shown; 1 the image is invalid or unreadable (the message names the record, offset and rule); 2 usage.'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(this, argv);
    if (positionals.length > 1) throw new UsageError('inspect takes at most one FILE');
    const forms = (['json', 'dot', 'svg'] as const).filter((f) => values[f]);
    if (forms.length > 1) throw new UsageError(`${forms.map((f) => `--${f}`).join(' and ')} exclude each other`);
    let layout: 'builtin' | 'graphviz' = 'builtin';
    if (values.layout !== undefined) {
      if (!values.svg) throw new UsageError('--layout goes with --svg only');
      layout = choice('--layout', values.layout as string, ['builtin', 'graphviz'] as const);
    }
    let collapse: boolean | 'auto' | undefined;
    if (values.collapse !== undefined) {
      if (!values.dot && !values.svg) throw new UsageError('--collapse goes with --dot or --svg only');
      collapse = { auto: 'auto' as const, always: true, never: false }[choice('--collapse', values.collapse as string, ['auto', 'always', 'never'] as const)];
    }
    if (values.progress && values.quiet) throw new UsageError('--progress and --quiet exclude each other');

    const { readImageSource } = await import('../image-files');
    const { progressFor } = await import('../progress');
    const { writeChunks } = await import('../write-chunks');
    const { image, details } = await readImageSource(positionals[0], io, progressFor(io, values as { progress?: boolean; quiet?: boolean }));
    // Report, JSON and DOT are written as they are made (a million tasks never form one string).
    if (values.json) {
      const { inspectJsonChunks } = await import('../../inspect/json');
      await writeChunks(io.stdout, withNewline(inspectJsonChunks(image, details.objrefs)));
    } else if (values.dot || values.svg) {
      const { toGraph } = await import('../../inspect/graph');
      const graph = toGraph(image, details.objrefs, collapse === undefined ? {} : { collapse });
      if (values.dot) await writeChunks(io.stdout, (await import('../../inspect/dot')).dotLines(graph), '\n');
      else if (layout === 'graphviz') await writeChunks(io.stdout, [await graphvizSvg((await import('../../inspect/dot')).graphToDot(graph), io)]);
      else await writeChunks(io.stdout, [(await import('../../inspect/svg')).graphToSvg(graph)]);
    } else {
      const { reportLines } = await import('../../inspect/text');
      await writeChunks(io.stdout, reportLines(image, details.objrefs), '\n');
    }
    return 0;
  },
};
