// `cr-creds completion bash|zsh`: the completion script, made from the commands themselves.
import type { Command } from '../command';
import { UsageError } from '../command';
import { choice, parseCommandArgs } from '../args';

export const completion: Command = {
  name: 'completion',
  summary: 'print a shell completion script (bash or zsh)',
  synopsis: ['completion bash|zsh'],
  description:
    "Prints a completion script for the shell. bash: eval \"$(cr-creds completion bash)\" in ~/.bashrc, or save it as /usr/share/bash-completion/completions/cr-creds. zsh: save it as _cr-creds in a directory of $fpath (e.g. /usr/local/share/zsh/site-functions).",
  operands: 'word',
  options: [],
  notes: ['Exit status: 0; 2 usage.'],
  async run(argv, io, cli) {
    const { positionals } = parseCommandArgs(this, argv);
    if (positionals.length !== 1) throw new UsageError('completion takes one shell: bash or zsh');
    const shell = choice('shell', positionals[0], ['bash', 'zsh'] as const);
    const commands = await cli.commands();
    const { bashCompletion, zshCompletion } = await import('../completion');
    io.stdout.write(shell === 'bash' ? bashCompletion(commands) : zshCompletion(commands));
    return 0;
  },
};
