// `cr-creds validate`: one line per problem of each image; '-' is stdin. Each image is read as a
// stream (its type checked before any blocking open), in memory bounded by its largest record.
import type { Command } from '../command';
import { CliFailure, UsageError } from '../command';
import { parseCommandArgs } from '../args';

export const validate: Command = {
  name: 'validate',
  summary: 'check linux-cr images; one line per problem, exit 1 if any',
  synopsis: ['validate FILE...'],
  description:
    "Checks each image against every rule of the format and prints one line per problem: 'FILE: offset N: RECORD: RULE: message'. A valid image prints nothing. FILE is an image file, a FIFO or '-' (stdin, once), read as a stream in bounded memory.",
  operands: 'file',
  options: [],
  notes: ['Exit status: 0 every image is valid; 1 a problem, or a file that cannot be read; 2 usage.'],
  async run(argv, io) {
    const { positionals } = parseCommandArgs(this, argv);
    if (positionals.length === 0) throw new UsageError('validate needs at least one FILE');
    if (positionals.filter((p) => p === '-').length > 1) throw new UsageError("'-' (stdin) may be given once");
    const { validateImageSource } = await import('../image-files');
    let ok = true;
    for (const file of positionals) {
      const name = file === '-' ? '<stdin>' : file;
      let problems;
      try {
        problems = await validateImageSource(file, io);
      } catch (e) {
        if (!(e instanceof CliFailure)) throw e;
        io.stderr.write(`cr-creds: ${e.message}\n`);
        ok = false;
        continue;
      }
      for (const problem of problems) {
        io.stdout.write(`${name}: ${problem.message}\n`);
        ok = false;
      }
    }
    return ok ? 0 : 1;
  },
};
