// `cr-creds encode`: the `inspect --json` form back to an image (as crit encode does).
import { parseArgs } from 'util';
import * as fs from 'fs';
import { usageErrors } from '../args';
import { CliFailure, UsageError, type Command } from '../command';
import { checkImageOutput, writeImageOutput } from '../image-files';
import { encodeInspectJson } from '../../interop';

export const encodeCommand: Command = {
  name: 'encode',
  summary: "turn 'inspect --json' output back into an image",
  usage:
    'cr-creds encode [JSON|-] -o IMAGE\n' +
    '  JSON      the inspect --json document (default, or -: stdin); docs/inspect-json.md.\n' +
    '            Capability sets may be hex strings (as inspect writes them) or arrays of names;\n' +
    '            objects with equal objrefs are written once, as in the image they came from\n' +
    "  -o IMAGE  the image to write; '-': stdout\n" +
    "'cr-creds inspect --json IMAGE | cr-creds encode -o COPY' writes IMAGE's bytes again.",
  async run(argv, io) {
    const { values, positionals } = usageErrors(() =>
      parseArgs({ args: argv, allowPositionals: true, strict: true, options: { output: { type: 'string', short: 'o' } } }),
    );
    if (positionals.length > 1) throw new UsageError('encode takes at most one JSON file');
    if (values.output === undefined) throw new UsageError('-o IMAGE is required');
    checkImageOutput(io, values.output);
    const file = positionals[0] ?? '-';
    const name = file === '-' ? '<stdin>' : file;
    let text: string;
    try {
      if (file === '-') {
        const chunks: Buffer[] = [];
        for await (const c of io.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
        text = Buffer.concat(chunks).toString('utf8');
      } else text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new CliFailure(`cannot read ${name}: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new CliFailure(`${name}: not JSON: ${(e as Error).message}`);
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeInspectJson(json);
    } catch (e) {
      const err = e as Error & { code?: string };
      if (err.code) throw new CliFailure(`${name}: ${err.message}`);
      throw e;
    }
    await writeImageOutput(io, values.output, bytes);
    return 0;
  },
};
