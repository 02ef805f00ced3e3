// --help texts, made from the commands' data (command.ts): synopsis, description, every option
// with its help, notes. Lines fit in 80 columns.
import type { Command, OptionSpec } from './command';

const WIDTH = 80;

/** Words of `text` in lines of at most `width`, each after `indent` spaces (the first after `first`). */
export function wrap(text: string, width: number, indent: number, first = indent): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    let pad = out.length === 0 ? first : indent;
    for (const w of para.split(/ +/)) {
      if (line && pad + line.length + 1 + w.length > width) {
        out.push(' '.repeat(pad) + line);
        line = w;
        pad = indent;
      } else line = line ? `${line} ${w}` : w;
    }
    out.push(' '.repeat(pad) + line);
  }
  return out;
}

/** '-o, --output FILE' / '    --tree' / '--collapse auto|always|never'. */
export function optionFlags(o: OptionSpec): string {
  const long = `--${o.name}${o.value ? ` ${o.value}` : ''}`;
  return o.short ? `-${o.short}, ${long}` : `    ${long}`;
}

export const HELP_OPTION: OptionSpec = { name: 'help', short: 'h', help: 'show this help and exit' };

/** A synopsis in words, a bracketed group (even nested) kept whole. */
function groups(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === ' ' && depth === 0) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/** 'usage: cr-creds ...' lines, long ones wrapped under the command's first argument. */
function synopsisLines(cmd: Command): string[] {
  const indent = ' '.repeat(16 + cmd.name.length);
  return cmd.synopsis.flatMap((s, i) => {
    const lines: string[] = [];
    let line = `${i === 0 ? 'usage: ' : '       '}cr-creds`;
    let words = 0;
    for (const g of groups(s)) {
      if (line.length + 1 + g.length > WIDTH && words > (lines.length === 0 ? 1 : 0)) {
        lines.push(line);
        line = indent + g;
        words = 1;
      } else {
        line += words === 0 && line.endsWith(' ') ? g : ` ${g}`;
        words++;
      }
    }
    return [...lines, line];
  });
}

export function commandHelp(cmd: Command): string {
  const lines = synopsisLines(cmd);
  lines.push('', ...wrap(cmd.description, WIDTH, 0));
  const opts = [...cmd.options, HELP_OPTION];
  const col = Math.min(30, Math.max(...opts.map((o) => optionFlags(o).length)) + 4);
  lines.push('', 'options:');
  for (const o of opts) {
    const flags = `  ${optionFlags(o)}`;
    const text = wrap(o.help, WIDTH, col);
    if (flags.length + 2 <= col) lines.push(flags.padEnd(col) + text[0].trimStart(), ...text.slice(1));
    else lines.push(flags, ...text);
  }
  for (const n of cmd.notes ?? []) lines.push('', ...wrap(n, WIDTH, 0));
  return lines.join('\n') + '\n';
}

/** The synopsis alone, after a usage error. */
export function shortUsage(cmd: Command): string {
  return synopsisLines(cmd).join('\n') + `\nTry 'cr-creds ${cmd.name} --help' for more.\n`;
}

export function mainHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: cr-creds COMMAND [OPTIONS] [ARGS]',
    '       cr-creds -V | --version',
    '       cr-creds -h | --help',
    '',
    'Checkpoint and restart the credentials of Linux tasks in the linux-cr image format.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'cr-creds COMMAND --help' for a command's options; 'man cr-creds' for the manual.",
    'Exit status: 0 success, 1 failure, 2 usage error.',
  ].join('\n') + '\n';
}
