// Run by newuidmap.test.ts as uid 65534 (plain JS: it loads the compiled package given in
// argv[2]). Scenarios of two kinds:
//   { name, ns, cred, options }: build an image (a namespace chain, outermost first, then the
//     cred inside the innermost), restart() it with `options` (reporting what the program saw, or
//     the refusal and whether anything was started), and ask the emulator alone what it predicts
//     with the helpers restart found;
//   { name, ops }: the addon's spawn with these ops directly (no judgement), for failures of the
//     helper program itself, turned into the library's typed error.
'use strict';
const { load, scenarios, children, imageOf, tryRestart, run } = require('./caller-common');
const { callerCreds } = load('dist/restart');
const { stepErrorFrom } = load('dist/restart/errors');
const { findIdmapHelpers, subordinateOf } = load('dist/restart/idmap-helpers');
const { native } = load('dist/native/binding');
const { Emulator, kernelProfile, predictExec } = load('dist/emulator');

const me = callerCreds();

function emulatorSays(image, options) {
  const lastCap = native().probe().capLastCap;
  const emu = new Emulator(kernelProfile('modern', { lastCap }));
  const task = emu.spawnTask({ ...me, groups: { gids: me.groups }, user: emu.user(me.uid), caps: { ...me.caps } }, { noNewPrivs: me.noNewPrivs });
  const subordinate = subordinateOf(findIdmapHelpers(me, options.idmapHelpers));
  const out = emu.restart(image, task, { subordinate });
  const t = out.tasks[0];
  if (!t || !t.ok) return { ok: false, refused: out.steps.filter((s) => !s.allowed).map((s) => `${s.rule}: ${s.message}`) };
  const exec = predictExec(t.cred, t.noNewPrivs, undefined, kernelProfile('modern', { lastCap }));
  return { ok: true, execUids: [exec.uid, exec.euid, exec.suid, exec.fsuid], execGids: [exec.gid, exec.egid, exec.sgid, exec.fsgid] };
}

async function viaRestart(s) {
  const image = imageOf(s);
  const options = s.options || {};
  const files = ['/proc/self/status', '/proc/self/uid_map', '/proc/self/gid_map', '/proc/self/setgroups'];
  const r = { name: s.name, ...(await tryRestart(image, '/bin/sh', ['-c', `for f in ${files.join(' ')}; do echo "== $f"; cat $f; done`], options)) };
  r.emulator = emulatorSays(image, options);
  return r;
}

function viaSpawn(s) {
  const r = { name: s.name, childrenBefore: children() };
  try {
    native().spawn({ files: ['/bin/true'], argv: ['true'], envp: [], stdio: ['ignore', 'ignore', 'ignore'], ops: s.ops, onExit() {} });
    r.started = true;
  } catch (e) {
    const t = stepErrorFrom(e, s.ops, '/bin/true');
    r.started = false;
    r.error = { name: t.name, code: t.code, phase: t.phase, op: t.op, field: t.field, actual: t.actual, message: t.message };
  }
  r.childrenAfter = children();
  return r;
}

async function main() {
  const out = [];
  for (const s of scenarios) out.push(s.ops ? viaSpawn(s) : await viaRestart(s));
  return out;
}
run(main);
