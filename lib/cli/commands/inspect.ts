import { createReadStream } from 'fs';
import type { Readable } from 'stream';
import { parseArgs } from 'util';
import { usageErrors } from '../args';
import { CliFailure, UsageError, type Command } from '../command';
import { readImageDetailed } from '../../format/stream';
import { ImageFormatError } from '../../format/errors';
import { renderReport, toInspectJson } from '../../inspect';

/** Reads an image from a file or stdin; failures become CliFailure naming the source. */
async function readSource(file: string | undefined, stdin: Readable) {
  const name = file === undefined || file === '-' ? '<stdin>' : file;
  const stream = name === '<stdin>' ? stdin : createReadStream(file as string);
  try {
    return await readImageDetailed(stream);
  } catch (e) {
    if (e instanceof ImageFormatError) throw new CliFailure(`${name}: ${e.message}`);
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && err.syscall) throw new CliFailure(`cannot read ${name}: ${err.message}`);
    throw e;
  } finally {
    if (stream !== stdin) stream.destroy();
  }
}

export const inspect: Command = {
  name: 'inspect',
  summary: 'show the credentials held in a linux-cr image (readable, or --json)',
  usage: 'cr-creds inspect [FILE|-] [--json]',
  async run(argv, io) {
    const { values, positionals } = usageErrors(() =>
      parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true }),
    );
    if (positionals.length > 1) throw new UsageError('inspect takes at most one FILE');
    const { image, details } = await readSource(positionals[0], io.stdin);
    if (values.json) io.stdout.write(JSON.stringify(toInspectJson(image, details.objrefs), null, 2) + '\n');
    else io.stdout.write(renderReport(image, details.objrefs));
    return 0;
  },
};
