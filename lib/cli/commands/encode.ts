// `cr-creds encode`: the `inspect --json` form back to an image (as crit encode does).
import { parseCommandArgs } from '../args';
import { CliFailure, UsageError, type Command } from '../command';

export const encodeCommand: Command = {
  name: 'encode',
  summary: "turn 'inspect --json' output back into an image",
  synopsis: ['encode [JSON | -] -o IMAGE'],
  description:
    "Turns the 'inspect --json' form (docs/inspect-json.md) back into an image, as CRIU's crit encode does: 'cr-creds inspect --json IMAGE | cr-creds encode -o COPY' writes IMAGE's bytes again. JSON defaults to stdin. Capability sets may be hex strings (as inspect writes them) or arrays of names; objects with equal objrefs are written once, as in the image they came from; the dialect and prefix the JSON names are written as they were.",
  operands: 'file',
  options: [
    { name: 'output', short: 'o', value: 'IMAGE', help: "the image to write; '-': stdout" },
  ],
  notes: ['Exit status: 0 written; 1 the JSON is not an image (the message names the field and the rule) or cannot be read; 2 usage.'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(this, argv);
    const output = values.output as string | undefined;
    if (positionals.length > 1) throw new UsageError('encode takes at most one JSON file');
    if (output === undefined) throw new UsageError('-o IMAGE is required');
    const { checkImageOutput, readTextInput, writeImageOutput } = await import('../image-files');
    checkImageOutput(io, output);
    const file = positionals[0] ?? '-';
    const name = file === '-' ? '<stdin>' : file;
    const text = await readTextInput(file, io);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new CliFailure(`${name}: not JSON: ${(e as Error).message}`);
    }
    const { encodeInspectJson } = await import('../../interop');
    let bytes: Uint8Array;
    try {
      bytes = encodeInspectJson(json);
    } catch (e) {
      const err = e as Error & { code?: string };
      if (err.code) throw new CliFailure(`${name}: ${err.message}`);
      throw e;
    }
    await writeImageOutput(io, output, bytes);
    return 0;
  },
};
