import { parseArgs } from 'util';
import { usageErrors } from '../args';
import { CliFailure, UsageError, type Command } from '../command';
import { validateImageSource } from '../image-files';

export const validate: Command = {
  name: 'validate',
  summary: 'check linux-cr images; one line per problem, exit 1 if any',
  usage:
    "cr-creds validate FILE...\n" +
    "  FILE   an image file, FIFO or '-' (stdin); each is read as a stream, in bounded memory",
  async run(argv, io) {
    const { positionals } = usageErrors(() => parseArgs({ args: argv, options: {}, allowPositionals: true, strict: true }));
    if (positionals.length === 0) throw new UsageError('validate needs at least one FILE');
    let ok = true;
    for (const file of positionals) {
      let problems;
      try {
        problems = await validateImageSource(file, io.stdin);
      } catch (e) {
        if (!(e instanceof CliFailure)) throw e;
        io.stderr.write(`cr-creds: ${e.message}\n`);
        ok = false;
        continue;
      }
      for (const problem of problems) {
        io.stdout.write(`${file}: ${problem.message}\n`);
        ok = false;
      }
    }
    return ok ? 0 : 1;
  },
};
