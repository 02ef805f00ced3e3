// Runs a compiled cr-creds CLI in this very process and, when it is done, writes one last line
// to stderr: `MEASURED {"code":N,"maxRssKiB":N,"ms":N,"cpuMs":N}` (the peak RSS of the whole
// process; the wall and CPU time, user and system, of the command).
// Usage: node measured-cli.js PKG_DIR ARGS...
'use strict';
const path = require('path');
const [pkg, ...argv] = process.argv.slice(2);
const { main } = require(path.join(pkg, 'dist', 'cli', 'main.js'));
// No heap flags set here: the commands set the CLI's own on their way into big work (main
// runs them as the entry does), so the peak RSS measured is the CLI's.
const t0 = Date.now();
const cpu0 = process.cpuUsage();
main(argv, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, isTTY: false, env: process.env }).then(
  (code) => {
    const cpu = process.cpuUsage(cpu0);
    const r = { code, maxRssKiB: process.resourceUsage().maxRSS, ms: Date.now() - t0, cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
    process.stderr.write(`\nMEASURED ${JSON.stringify(r)}\n`, () => process.exit(code));
  },
  (e) => {
    process.stderr.write(`\nMEASURED ${JSON.stringify({ code: 70, error: String(e && e.stack) })}\n`, () => process.exit(70));
  },
);
