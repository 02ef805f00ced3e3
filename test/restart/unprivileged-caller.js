// Run by unprivileged.test.ts as uid 65534 (plain JS: it loads the compiled package given in
// argv[2]). For each scenario: build an image, ask restart() (denials must start nothing),
// then ask the real kernel directly (the plan's ops, bypassing the judgement) whether it agrees.
'use strict';
const { load, scenarios, imageOf, tryRestart, run } = require('./caller-common');
const { childPlan, callerCreds } = load('dist/restart');
const { native } = load('dist/native/binding');
const { Emulator, kernelProfile, predictExec } = load('dist/emulator');

const me = callerCreds();

function kernelSays(image) {
  const t = image.tasks[0];
  let plan;
  try {
    plan = childPlan(t.cred, t.noNewPrivs, me, { capLastCap: native().probe().capLastCap });
  } catch (e) {
    return { ok: false, planError: e.message };
  }
  // ok: the kernel took every op and the child read back exactly plan.expect (whose bounding
  // set is the image's within the caller's: a lacking bit cannot be added back).
  const expect = plan.expect;
  try {
    native().spawn({ files: ['/bin/true'], argv: ['true'], envp: [], stdio: ['ignore', 'ignore', 'ignore'], ops: plan.ops, expect, onExit() {} });
    return { ok: true, bounding: expect.caps.bounding };
  } catch (e) {
    return { ok: false, code: e.code, phase: e.phase, op: e.phase === 'op' ? plan.ops[e.step].op : e.phase, field: e.field };
  }
}

// The emulator alone: allowed or not, the refused rules, and the creds after execve.
function emulatorSays(image) {
  const lastCap = native().probe().capLastCap;
  const emu = new Emulator(kernelProfile('modern', { lastCap }));
  const task = emu.spawnTask(
    { ...me, groups: { gids: me.groups }, user: emu.user(me.uid), caps: { ...me.caps } },
    { noNewPrivs: me.noNewPrivs },
  );
  const out = emu.restart(image, task);
  const t = out.tasks[0];
  if (!t || !t.ok) return { ok: false, refused: out.steps.filter((s) => !s.allowed).map((s) => s.rule) };
  const exec = predictExec(t.cred, t.noNewPrivs, undefined, kernelProfile('modern', { lastCap }));
  return { ok: true, bounding: t.cred.caps.bounding, execUids: [exec.uid, exec.euid, exec.suid, exec.fsuid], execPermitted: '0x' + exec.caps.permitted.toString(16) };
}

async function main() {
  const out = [];
  for (const s of scenarios) {
    const image = imageOf(s);
    const r = { name: s.name, ...(await tryRestart(image, '/bin/cat', ['/proc/self/status', '/proc/self/uid_map'])) };
    if (r.refused) r.refused = r.refused.map((x) => x.op);
    r.kernel = kernelSays(image);
    r.emulator = emulatorSays(image);
    out.push(r);
  }
  return out;
}
run(main);
