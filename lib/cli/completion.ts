// Shell completion scripts for bash and zsh, made from the commands' data: every command, every
// option (with its choices), and what the operands are (files, pids, directories, a command).
import type { Command, OptionSpec } from './command';
import { HELP_OPTION } from './help';

function flagsOf(o: OptionSpec): string[] {
  return [...(o.short ? [`-${o.short}`] : []), `--${o.name}`];
}

/** What a value of `o` completes to, in bash (`compgen` arguments). */
function bashValue(o: OptionSpec): string {
  if (o.choices) return `-W '${o.choices.join(' ')}'`;
  if (/DIR/.test(o.value ?? '')) return '-d';
  if (/FILE/.test(o.value ?? '')) return '-f';
  return '-W ""';
}

const BASH_OPERANDS: Record<Command['operands'], string> = {
  file: 'COMPREPLY=($(compgen -f -- "$cur"))',
  dir: 'COMPREPLY=($(compgen -d -- "$cur"))',
  pid: "COMPREPLY=($(compgen -W \"$(ps -e -o pid= 2>/dev/null)\" -- \"$cur\"))",
  command: 'COMPREPLY=($(compgen -c -f -- "$cur"))',
  word: 'COMPREPLY=($(compgen -W "bash zsh" -- "$cur"))',
  none: 'COMPREPLY=()',
};

export function bashCompletion(commands: readonly Command[]): string {
  const cases = commands.map((c) => {
    const opts = [...c.options, HELP_OPTION];
    const valued = opts.filter((o) => o.value);
    const prevCases = valued.map((o) => `        ${flagsOf(o).join('|')}) COMPREPLY=($(compgen ${bashValue(o)} -- "$cur")); return ;;`);
    return [
      `    ${c.name})`,
      ...(prevCases.length ? ['      case $prev in', ...prevCases, '      esac'] : []),
      `      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W '${opts.flatMap(flagsOf).join(' ')}' -- "$cur")); return; fi`,
      `      ${BASH_OPERANDS[c.operands]}`,
      '      ;;',
    ].join('\n');
  });
  return `# bash completion for cr-creds (made by 'cr-creds completion bash')
_cr_creds() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W '${commands.map((c) => c.name).join(' ')} -h --help -V --version' -- "$cur"))
    return
  fi
  case \${COMP_WORDS[1]} in
${cases.join('\n')}
  esac
}
complete -o filenames -F _cr_creds cr-creds
`;
}

/** Text safe inside a zsh _arguments description: brackets, colons and quotes escaped. */
function zshText(s: string): string {
  const first = s.split(/[;(]/)[0].trim();
  return first.replace(/\\/g, '\\\\').replace(/'/g, "'\\''").replace(/([[\]:])/g, '\\$1');
}

const ZSH_OPERANDS: Record<Command['operands'], string> = {
  file: "'*:file:_files'",
  dir: "'*:directory:_files -/'",
  pid: "'*:pid:_pids'",
  command: "'*::command:_normal'",
  word: "'1:shell:(bash zsh)'",
  none: '',
};

function zshSpec(o: OptionSpec): string {
  const flags = flagsOf(o);
  const excl = flags.length > 1 ? `'(${flags.join(' ')})'{${flags.join(',')}}` : `'${flags[0]}`;
  const open = flags.length > 1 ? "'" : '';
  const value = o.value ? `:${zshText(o.value)}:${o.choices ? `(${o.choices.join(' ')})` : /DIR/.test(o.value) ? '_files -/' : /FILE/.test(o.value) ? '_files' : ' '}` : '';
  return `${excl}${open}[${zshText(o.help)}]${value}'`;
}

export function zshCompletion(commands: readonly Command[]): string {
  const cases = commands.map((c) => {
    const specs = [...c.options, HELP_OPTION].map(zshSpec);
    if (ZSH_OPERANDS[c.operands]) specs.push(ZSH_OPERANDS[c.operands]);
    return `    (${c.name})\n      _arguments -s \\\n        ${specs.join(' \\\n        ')}\n      ;;`;
  });
  return `#compdef cr-creds
# zsh completion for cr-creds (made by 'cr-creds completion zsh')
_cr_creds() {
  local -a commands
  commands=(
${commands.map((c) => `    '${c.name}:${zshText(c.summary)}'`).join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'cr-creds command' commands
    _arguments '(- *)'{-h,--help}'[show help]' '(- *)'{-V,--version}'[show the version]'
    return
  fi
  shift words
  (( CURRENT-- ))
  case $words[1] in
${cases.join('\n')}
  esac
}
_cr_creds "$@"
`;
}
