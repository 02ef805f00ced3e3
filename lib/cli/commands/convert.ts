// `cr-creds convert`: CRIU dump directory <-> linux-cr image (docs/criu-interop.md). The CRIU
// codec (protobufjs) is loaded when it runs.
import type { CliIo, Command } from '../command';
import { CliFailure, UsageError } from '../command';
import { choice, parseCommandArgs } from '../args';
import { dialectOption } from '../dialect-option';
import type { LossyItem } from '../../criu';

function sentence(item: LossyItem): string {
  return item.tid === undefined ? item.detail : `thread ${item.tid}: ${item.detail}`;
}

/** Prints the losses (and assumptions); under --strict, any loss refuses the conversion. */
function report(io: CliIo, lossy: readonly LossyItem[], assumed: readonly LossyItem[], strict: boolean, into: string): void {
  for (const a of assumed) io.stderr.write(`cr-creds: assumed: ${sentence(a)}\n`);
  for (const l of lossy) io.stderr.write(`cr-creds: not carried into ${into}: ${sentence(l)}\n`);
  if (strict && lossy.length > 0)
    throw new CliFailure(`--strict: nothing written: ${lossy.length} ${lossy.length === 1 ? 'thing' : 'things'} would be lost`);
}

export const convert: Command = {
  name: 'convert',
  summary: 'convert credentials between CRIU dump files and a linux-cr image',
  synopsis: ['convert --from criu DIR [-o FILE | -] [--dialect v21|v23] [--strict]', 'convert --to criu [FILE | -] -o DIR [--strict]'],
  description:
    'Reads the credentials of a CRIU dump directory (inventory, pstree, core, ids and userns images) into a linux-cr image, or writes an image as CRIU images into an empty directory. What one format holds and the other cannot is listed on stderr (docs/criu-interop.md).',
  operands: 'dir',
  options: [
    { name: 'from', value: 'criu', choices: ['criu'], help: 'read the CRIU dump directory DIR' },
    { name: 'to', value: 'criu', choices: ['criu'], help: 'write the image (FILE, or stdin; either dialect) as CRIU images into -o DIR (absent or empty)' },
    { name: 'output', short: 'o', value: 'FILE|DIR', help: "with --from: the image to write ('-' or none: stdout); with --to: the directory for the CRIU images" },
    { name: 'dialect', value: 'v21|v23', choices: ['v21', 'v23'], help: "with --from: the image's record numbering: v21 (the seed's, default) or v23 (2011)" },
    { name: 'strict', help: 'refuse (exit 1, nothing written) when anything would not be carried' },
  ],
  notes: ['Exit status: 0 converted; 1 an unreadable or invalid input, or a loss under --strict; 2 usage.'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(this, argv);
    if ((values.from === undefined) === (values.to === undefined)) throw new UsageError('give exactly one of --from criu and --to criu');
    choice(values.from !== undefined ? '--from' : '--to', (values.from ?? values.to) as string, ['criu'] as const);
    const strict = Boolean(values.strict);
    const dialect = dialectOption(values.dialect as string | undefined);
    if (dialect !== undefined && values.from === undefined) throw new UsageError('--dialect goes with --from criu (an image is read in either dialect)');
    const { checkImageOutput, readImageSource, writeImageOutput } = await import('../image-files');
    const { fsReason } = await import('../../files/fs-reason');
    const criu = await import('../../criu');

    if (values.from !== undefined) {
      if (positionals.length !== 1) throw new UsageError('--from criu takes one DIR, the CRIU dump directory');
      const out = (values.output as string | undefined) ?? '-';
      checkImageOutput(io, out);
      const { encode } = await import('../../format/encode');
      (await import('../heap-flags')).setCliHeapFlags();
      const { image, lossy, assumed } = await criu.criuDirToImage(positionals[0]);
      report(io, lossy, assumed, strict, 'the image');
      await writeImageOutput(io, out, encode(image, { dialect }));
      return 0;
    }

    if (positionals.length > 1) throw new UsageError('--to criu takes at most one FILE');
    const dir = values.output as string | undefined;
    if (dir === undefined || dir === '-') throw new UsageError('-o DIR is required: the directory for the CRIU images');
    const fs = await import('fs');
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new CliFailure(`${dir} is not a directory`);
      if (code !== 'ENOENT') throw new CliFailure(`cannot read ${dir}: ${fsReason(e)}`);
    }
    if (entries.length > 0) throw new CliFailure(`${dir} is not empty: refusing to mix these images with other files`);
    const image = (await readImageSource(positionals[0], io, undefined, false)).image;
    let converted;
    try {
      converted = criu.imageToCriuDump(image);
    } catch (e) {
      if (e instanceof RangeError) throw new CliFailure(e.message.replace(/^imageToCriuDump: /, ''));
      throw e;
    }
    report(io, converted.lossy, [], strict, 'the CRIU images');
    await criu.writeCriuDir(converted.dump, dir);
    return 0;
  },
};
