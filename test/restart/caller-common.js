// Shared by the scripts the unprivileged tests run as uid 65534 (unprivileged-caller.js,
// newuidmap-caller.js). Plain JS: it loads the compiled package whose path is argv[2]; the
// scenarios come as JSON in argv[3] (bigints as 0x strings) and the results go to stdout so.
'use strict';
const fs = require('fs');
const path = require('path');

const pkg = process.argv[2];
/** A module of the compiled package, e.g. load('dist/restart'). */
const load = (rel) => require(path.join(pkg, rel));
const scenarios = JSON.parse(process.argv[3], (k, v) => (typeof v === 'string' && /^0x[0-9a-f]+$/.test(v) ? BigInt(v) : v));

/** How many children this process has now: a refused restart must leave it as it was. */
function children() {
  const t = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim();
  return t ? t.split(/\s+/).length : 0;
}

/** The image of a scenario: `ns` (one level, or a chain outermost first), then the cred inside. */
function imageOf(s) {
  const { ImageBuilder } = load('dist/format');
  const b = new ImageBuilder();
  let ns;
  for (const level of s.ns ? [].concat(s.ns) : []) ns = b.namespace(b.user(level.creator, ns), level);
  b.task(b.cred({ ...s.cred, user: ns ? b.user(s.cred.uid, ns) : undefined }));
  return b.build();
}

/**
 * restart() of `image` running file+args with stdout piped (and cwd /: our own may be a root-only
 * checkout); around it, this process's children counted. Started: the exit code and what the
 * program printed. Refused: the error's name, whether it is a RestartDenied, its refused steps
 * ({ op, rule, message }) and message.
 */
async function tryRestart(image, file, args, options = {}) {
  const { RestartDenied } = load('dist/restart');
  const { restartForTests } = load('dist/restart/testing');
  const r = { childrenBefore: children() };
  try {
    const exit = await restartForTests(image, file, args, { ...options, stdio: ['ignore', 'pipe', 'inherit'], cwd: '/', buffer: true });
    Object.assign(r, { started: true, code: exit.exitCode, output: exit.stdout });
  } catch (e) {
    const refused = (e.steps || []).filter((x) => !x.allowed).map((x) => ({ op: x.op, rule: x.rule, message: x.message }));
    Object.assign(r, { started: false, error: e.name, denied: e instanceof RestartDenied, refused, message: e.message });
  }
  r.childrenAfter = children();
  return r;
}

/** Runs main and prints what it resolves to; an unexpected error exits 1 with its stack. */
function run(main) {
  main().then(
    (out) => process.stdout.write(JSON.stringify(out, (k, v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v))),
    (e) => {
      process.stderr.write(String(e && e.stack));
      process.exit(1);
    },
  );
}

module.exports = { load, scenarios, children, imageOf, tryRestart, run };
