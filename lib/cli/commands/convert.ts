// `cr-creds convert`: CRIU dump directory <-> linux-cr image (docs/criu-interop.md).
import * as fs from 'fs';
import { parseArgs } from 'util';
import type { Command } from '../command';
import { CliFailure, UsageError, type CliIo } from '../command';
import { dialectOption, usageErrors } from '../args';
import { checkImageOutput, readImageSource, writeImageOutput } from '../image-files';
import { encode } from '../../format';
import { criuDirToImage, imageToCriuDump, writeCriuDir, type LossyItem } from '../../criu';

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
  usage:
    'cr-creds convert --from criu DIR [-o FILE|-] [--dialect=v21|v23] [--strict]\n' +
    '       cr-creds convert --to criu [FILE|-] -o DIR [--strict]\n' +
    "  --from criu DIR   read a CRIU dump directory (inventory, pstree, core, ids, userns images)\n" +
    "  -o FILE           the image to write; '-' or none: stdout\n" +
    "  --dialect=v21|v23 the image's record numbering: v21 (the seed's, default) or v23 (2011)\n" +
    '  --to criu         write the image (FILE, or stdin; either dialect) as CRIU images into -o DIR\n' +
    '                    (absent or empty)\n' +
    '  --strict          refuse (exit 1, nothing written) when anything would not be carried\n' +
    'What one format holds and the other cannot is listed on stderr (docs/criu-interop.md).',
  async run(argv, io) {
    const { values, positionals } = usageErrors(() =>
      parseArgs({
        args: argv,
        allowPositionals: true,
        strict: true,
        options: {
          from: { type: 'string' },
          to: { type: 'string' },
          output: { type: 'string', short: 'o' },
          strict: { type: 'boolean' },
          dialect: { type: 'string' },
        },
      }),
    );
    if ((values.from === undefined) === (values.to === undefined)) throw new UsageError('give exactly one of --from criu and --to criu');
    const format = values.from ?? values.to;
    if (format !== 'criu') throw new UsageError(`unknown format '${format}' (only criu)`);
    const strict = values.strict ?? false;
    const dialect = dialectOption(values.dialect);
    if (dialect !== undefined && values.from === undefined) throw new UsageError('--dialect goes with --from criu (an image is read in either dialect)');

    if (values.from !== undefined) {
      if (positionals.length !== 1) throw new UsageError('--from criu takes one DIR, the CRIU dump directory');
      const out = values.output ?? '-';
      checkImageOutput(io, out);
      const { image, lossy, assumed } = await criuDirToImage(positionals[0]);
      report(io, lossy, assumed, strict, 'the image');
      await writeImageOutput(io, out, encode(image, { dialect }));
      return 0;
    }

    if (positionals.length > 1) throw new UsageError('--to criu takes at most one FILE');
    const dir = values.output;
    if (dir === undefined || dir === '-') throw new UsageError('-o DIR is required: the directory for the CRIU images');
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new CliFailure(`${dir} is not a directory`);
      if (code !== 'ENOENT') throw new CliFailure(`cannot read ${dir}: ${(e as Error).message}`);
    }
    if (entries.length > 0) throw new CliFailure(`${dir} is not empty: refusing to mix these images with other files`);
    const image = (await readImageSource(positionals[0], io.stdin, undefined, false)).image;
    let converted;
    try {
      converted = imageToCriuDump(image);
    } catch (e) {
      if (e instanceof RangeError) throw new CliFailure(e.message.replace(/^imageToCriuDump: /, ''));
      throw e;
    }
    report(io, converted.lossy, [], strict, 'the CRIU images');
    await writeCriuDir(converted.dump, dir);
    return 0;
  },
};
