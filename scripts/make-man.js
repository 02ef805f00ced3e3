#!/usr/bin/env node
// Writes man/cr-creds.1 (roff) from the CLI's own command data (lib/cli/commands): every
// command's synopsis, description, options and notes, so the manual and --help cannot drift.
// test/cli/docs.test.ts checks that the committed page is what this script makes.
//
//   npx tsc -p tsconfig.build.json && node scripts/make-man.js
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');

/** Text for roff: backslashes and dashes escaped, no line starting with a control character. */
function roff(text) {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

function flags(o) {
  const long = `\\fB\\-\\-${roff(o.name)}\\fR${o.value ? ` \\fI${roff(o.value)}\\fR` : ''}`;
  return o.short ? `\\fB\\-${o.short}\\fR, ${long}` : long;
}

function page(commands, version) {
  const out = [
    `.TH CR\\-CREDS 1 "" "cr-creds ${version}" "User Commands"`,
    '.SH NAME',
    'cr\\-creds \\- checkpoint and restart the credentials of Linux tasks',
    '.SH SYNOPSIS',
    ...commands.flatMap((c) => c.synopsis.map((s) => `.B cr\\-creds\n${roff(s)}\n.br`)),
    '.B cr\\-creds\n\\-V | \\-\\-version | \\-h | \\-\\-help',
    '.SH DESCRIPTION',
    roff(
      'cr-creds checkpoints and restarts the credentials of Linux tasks: uids and gids (real, effective, saved, fs), ' +
        'supplementary groups, the five capability sets, securebits, no_new_privs and the chain of user namespaces, ' +
        'in the record format of the linux-cr kernel checkpoint/restart series. It reads live processes, shows and checks ' +
        'images, converts to and from CRIU dumps, and starts programs with the credentials of an image, judged beforehand ' +
        'against the caller\'s own.',
    ),
    '.SH COMMANDS',
  ];
  for (const c of commands) {
    out.push(`.SS ${roff(c.name)}`, roff(c.summary) + '.', '.PP', ...c.synopsis.map((s) => `.B cr\\-creds\n${roff(s)}\n.br`), '.PP', roff(c.description));
    for (const o of [...c.options, { name: 'help', short: 'h', help: 'show this help and exit' }]) out.push('.TP', flags(o), roff(o.help));
    for (const n of c.notes ?? []) out.push('.PP', roff(n));
  }
  out.push(
    '.SH EXIT STATUS',
    '0 success, 1 failure (an invalid image, a refusal, a process gone), 2 a usage error. ' +
      '\\fBrestart\\fR exits with its program\'s status (128+N for a death by signal N).',
    '.SH ENVIRONMENT',
    '.TP\n.B CI\nset (not empty, 0 or false): progress is not shown unless \\fB\\-\\-progress\\fR.',
    '.TP\n.B CR_CREDS_SECUREBITS_READER\nhow \\fBcheckpoint\\fR reads securebits when \\fB\\-\\-securebits\\-reader\\fR is not given: \\fBauto\\fR (default), \\fBbpf\\fR or \\fBptrace\\fR.',
    '.TP\n.B XDG_RUNTIME_DIR\nwhere a non-root \\fBcheckpoint\\fR remembers, for this boot, that the kernel lacks the linux\\-cr syscalls (root: \\fI/run/cr\\-creds\\fR).',
    '.SH SHELL COMPLETION',
    'bash: \\fBeval "$(cr\\-creds completion bash)"\\fR; zsh: \\fBcr\\-creds completion zsh > "${fpath[1]}/_cr\\-creds"\\fR.',
    '.SH SEE ALSO',
    '.BR setpriv (1),',
    '.BR capsh (1),',
    '.BR unshare (1),',
    '.BR crit (1),',
    '.BR capabilities (7),',
    '.BR user_namespaces (7),',
    '.BR credentials (7).',
    'The documents in the package\'s \\fIdocs/\\fR directory: restart.md, image\\-format.md, inspect\\-json.md, api.md.',
  );
  return out.join('\n') + '\n';
}

function main() {
  const { commands } = require(path.join(ROOT, 'dist', 'cli', 'commands'));
  const { version } = require(path.join(ROOT, 'package.json'));
  const text = page(commands, version);
  if (process.argv.includes('--stdout')) return process.stdout.write(text);
  fs.mkdirSync(path.join(ROOT, 'man'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'man', 'cr-creds.1'), text);
}

module.exports = { page };
if (require.main === module) main();
