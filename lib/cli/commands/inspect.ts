import { spawnSync } from 'child_process';
import { parseArgs } from 'util';
import { usageErrors } from '../args';
import { CliFailure, UsageError, type CliIo, type Command } from '../command';
import { progressFor } from '../progress';
import { readImageSource } from '../image-files';
import { dotLines, graphToDot, graphToSvg, inspectJsonChunks, reportLines, toGraph, type GraphOptions } from '../../inspect';
import { writeChunks } from '../write-chunks';

/** DOT through Graphviz's `dot -Tsvg`, found in the PATH of the CLI's environment. */
function graphvizSvg(dot: string, io: CliIo): string {
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
  usage:
    'cr-creds inspect [FILE|-] [--json | --dot | --svg [--layout=builtin|graphviz]] [--collapse=auto|always|never] [--progress|--quiet]\n' +
    '  --json                    the documented JSON form (docs/inspect-json.md)\n' +
    '  --dot                     the object graph as Graphviz DOT (docs/inspect-graph.md)\n' +
    '  --svg                     the object graph as a self-contained SVG\n' +
    "  --layout=graphviz         --svg drawn by Graphviz's dot (must be installed); default: built in\n" +
    '  --collapse=auto|always|never  one node for tasks with identical creds (auto: above 50 tasks)\n' +
    '  --progress / --quiet      progress of reading a big file: forced on / off (default: terminal only)',
  async run(argv, io) {
    const { values, positionals } = usageErrors(() =>
      parseArgs({
        args: argv,
        options: {
          json: { type: 'boolean' },
          dot: { type: 'boolean' },
          svg: { type: 'boolean' },
          layout: { type: 'string' },
          collapse: { type: 'string' },
          progress: { type: 'boolean' },
          quiet: { type: 'boolean' },
        },
        allowPositionals: true,
        strict: true,
      }),
    );
    if (positionals.length > 1) throw new UsageError('inspect takes at most one FILE');
    const forms = (['json', 'dot', 'svg'] as const).filter((f) => values[f]);
    if (forms.length > 1) throw new UsageError(`${forms.map((f) => `--${f}`).join(' and ')} exclude each other`);
    if (values.layout !== undefined) {
      if (!values.svg) throw new UsageError('--layout goes with --svg only');
      if (values.layout !== 'builtin' && values.layout !== 'graphviz')
        throw new UsageError(`unknown --layout '${values.layout}' (builtin or graphviz)`);
    }
    let graphOptions: GraphOptions = {};
    if (values.collapse !== undefined) {
      if (!values.dot && !values.svg) throw new UsageError('--collapse goes with --dot or --svg only');
      const c = { auto: 'auto', always: true, never: false }[values.collapse];
      if (c === undefined) throw new UsageError(`unknown --collapse '${values.collapse}' (auto, always or never)`);
      graphOptions = { collapse: c as GraphOptions['collapse'] };
    }
    if (values.progress && values.quiet) throw new UsageError('--progress and --quiet exclude each other');

    const { image, details } = await readImageSource(positionals[0], io.stdin, progressFor(io, values));
    // Report, JSON and DOT are written as they are made (a million tasks never form one string).
    if (values.json) await writeChunks(io.stdout, withNewline(inspectJsonChunks(image, details.objrefs)));
    else if (values.dot) await writeChunks(io.stdout, dotLines(toGraph(image, details.objrefs, graphOptions)), '\n');
    else if (values.svg) {
      const graph = toGraph(image, details.objrefs, graphOptions);
      await writeChunks(io.stdout, [values.layout === 'graphviz' ? graphvizSvg(graphToDot(graph), io) : graphToSvg(graph)]);
    } else await writeChunks(io.stdout, reportLines(image, details.objrefs), '\n');
    return 0;
  },
};
