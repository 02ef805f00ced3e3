// Every option the documents name (README.md's CLI section, the man page) is one the command's
// --help explains; the committed man page is the one scripts/make-man.js makes from the
// commands' data. An option added to a command without its help, or documented for a command
// that lacks it, fails here.
import * as fs from 'fs';
import * as path from 'path';
import { commands } from '../../lib/cli/commands';
import { cli } from './io';

const ROOT = path.join(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { page } = require(path.join(ROOT, 'scripts', 'make-man.js')) as { page: (c: typeof commands, v: string) => string };
const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const names = commands.map((c) => c.name);

/** Options README's CLI section names, per command: its synopsis lines and its bullet. */
function readmeOptions(): Map<string, Set<string>> {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = text.slice(text.indexOf('## CLI\n'), text.indexOf('## API\n'));
  const out = new Map<string, Set<string>>();
  const add = (cmd: string, chunk: string) => {
    const set = out.get(cmd) ?? out.set(cmd, new Set()).get(cmd)!;
    for (const m of chunk.matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)) set.add(m[1]);
  };
  for (const line of section.split('\n')) {
    const m = /^ {4}cr-creds ([a-z]+) (.*)$/.exec(line);
    if (m && names.includes(m[1])) add(m[1], m[2].replace(/ -- CMD.*$/, ''));
  }
  for (const m of section.matchAll(/^- `([a-z]+)`:([\s\S]*?)(?=^- `|^\S|$(?![\s\S]))/gm)) if (names.includes(m[1])) add(m[1], m[2]);
  return out;
}

/** Options the man page lists under each command's section. */
function manOptions(): Map<string, Set<string>> {
  const text = fs.readFileSync(path.join(ROOT, 'man', 'cr-creds.1'), 'utf8');
  const out = new Map<string, Set<string>>();
  const parts = text.split(/^\.SS /m).slice(1);
  for (const p of parts) {
    const cmd = p.split('\n')[0].trim();
    const body = p.split(/^\.SH /m)[0];
    out.set(cmd, new Set([...body.matchAll(/\\fB\\-\\-([a-z][a-z\\-]*)\\fR/g)].map((m) => m[1].replace(/\\-/g, '-'))));
  }
  return out;
}

test('the committed man page is the one made from the commands (npm run build:man)', () => {
  expect(fs.readFileSync(path.join(ROOT, 'man', 'cr-creds.1'), 'utf8')).toBe(page(commands, version));
});

test('the man page has a section for every command, listing every option', () => {
  const man = manOptions();
  expect([...man.keys()].sort()).toEqual([...names].sort());
  for (const c of commands) for (const o of c.options) expect(man.get(c.name)).toContain(o.name);
});

test.each(['README.md', 'the man page'])('every option %s names for a command is in its --help', async (doc) => {
  const documented = doc === 'README.md' ? readmeOptions() : manOptions();
  expect(documented.size).toBeGreaterThanOrEqual(5);
  for (const [cmd, opts] of documented) {
    const help = (await cli([cmd, '--help'])).stdout;
    for (const o of opts) expect({ cmd, option: o, inHelp: new RegExp(`^ {2}(-\\w, )? *--${o}\\b`, 'm').test(help) }).toEqual({ cmd, option: o, inHelp: true });
  }
});

test('README names every command', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  for (const n of names) expect(readme).toMatch(new RegExp(`^ {4}cr-creds ${n}\\b`, 'm'));
});
