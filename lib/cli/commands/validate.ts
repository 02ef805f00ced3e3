import { readFile } from 'fs/promises';
import { parseArgs } from 'util';
import { usageErrors } from '../args';
import { UsageError, type Command } from '../command';
import { validate as validateImage } from '../../format/decode';

export const validate: Command = {
  name: 'validate',
  summary: 'check linux-cr images; one line per problem, exit 1 if any',
  usage: 'cr-creds validate FILE...',
  async run(argv, io) {
    const { positionals } = usageErrors(() => parseArgs({ args: argv, options: {}, allowPositionals: true, strict: true }));
    if (positionals.length === 0) throw new UsageError('validate needs at least one FILE');
    let ok = true;
    for (const file of positionals) {
      let bytes: Uint8Array;
      try {
        bytes = await readFile(file);
      } catch (e) {
        io.stderr.write(`cr-creds: cannot read ${file}: ${(e as Error).message}\n`);
        ok = false;
        continue;
      }
      for (const problem of validateImage(bytes)) {
        io.stdout.write(`${file}: ${problem.message}\n`);
        ok = false;
      }
    }
    return ok ? 0 : 1;
  },
};
