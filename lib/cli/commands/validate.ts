// `cr-creds validate`: one line per problem of each image; '-' is stdin.
import type { Command } from '../command';
import { UsageError } from '../command';
import { parseCommandArgs } from '../args';

async function readAll(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

export const validate: Command = {
  name: 'validate',
  summary: 'check linux-cr images; one line per problem, exit 1 if any',
  synopsis: ['validate FILE...'],
  description:
    "Checks each image against every rule of the format and prints one line per problem: 'FILE: offset N: RECORD: RULE: message'. A valid image prints nothing. '-' reads an image from stdin (once).",
  operands: 'file',
  options: [],
  notes: ['Exit status: 0 every image is valid; 1 a problem, or a file that cannot be read; 2 usage.'],
  async run(argv, io) {
    const { positionals } = parseCommandArgs(this, argv);
    if (positionals.length === 0) throw new UsageError('validate needs at least one FILE');
    if (positionals.filter((p) => p === '-').length > 1) throw new UsageError("'-' (stdin) may be given once");
    const { readFileSync } = await import('fs');
    const { validate: validateImage } = await import('../../format/decode');
    const { fsReason } = await import('../image-files');
    let ok = true;
    for (const file of positionals) {
      const name = file === '-' ? '<stdin>' : file;
      let bytes: Uint8Array;
      try {
        bytes = file === '-' ? await readAll(io.stdin) : readFileSync(file);
      } catch (e) {
        const err = e;
        io.stderr.write(`cr-creds: cannot read ${name}: ${fsReason(err)}\n`);
        ok = false;
        continue;
      }
      for (const problem of validateImage(bytes)) {
        io.stdout.write(`${name}: ${problem.message}\n`);
        ok = false;
      }
    }
    return ok ? 0 : 1;
  },
};
