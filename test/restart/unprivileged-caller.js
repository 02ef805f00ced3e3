// Run by unprivileged.test.ts as uid 65534 (plain JS: it loads the compiled package given in
// argv[2]). For each scenario: build an image, ask restart() (denials must start nothing),
// then ask the real kernel directly (the plan's ops, bypassing the judgement) whether it agrees.
'use strict';
const fs = require('fs');
const path = require('path');
const pkg = argvPkg();
const { ImageBuilder } = require(path.join(pkg, 'dist/format'));
const { restart, restorePlan, callerCreds, RestartDenied } = require(path.join(pkg, 'dist/restart'));
const { native } = require(path.join(pkg, 'dist/native/binding'));
const { Emulator, kernelProfile, predictExec } = require(path.join(pkg, 'dist/emulator'));

function argvPkg() {
  return process.argv[2];
}
const scenarios = JSON.parse(process.argv[3], (k, v) => (typeof v === 'string' && /^0x[0-9a-f]+$/.test(v) ? BigInt(v) : v));
const me = callerCreds();
const children = () => {
  const t = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim();
  return t ? t.split(/\s+/).length : 0;
};

function imageOf(s) {
  const b = new ImageBuilder();
  let user;
  if (s.ns) {
    const ns = b.namespace(b.user(s.ns.creator), s.ns);
    user = b.user(s.cred.uid, ns);
  }
  b.task(b.cred({ ...s.cred, user }));
  return b.build();
}

function kernelSays(image) {
  const t = image.tasks[0];
  let plan;
  try {
    plan = restorePlan(t.cred, t.noNewPrivs, me, { capLastCap: native().probe().capLastCap });
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
    const r = { name: s.name, childrenBefore: children() };
    try {
      const h = restart(image, '/bin/cat', ['/proc/self/status', '/proc/self/uid_map'], { stdio: ['ignore', 'pipe', 'inherit'], cwd: '/' }); // our own cwd may be a root-only checkout
      let text = '';
      h.stdout.setEncoding('utf8');
      h.stdout.on('data', (d) => (text += d));
      const exit = await h;
      r.started = true;
      r.code = exit.code;
      r.status = text;
    } catch (e) {
      r.started = false;
      r.error = e.name;
      r.denied = e instanceof RestartDenied;
      r.refused = (e.steps || []).filter((x) => !x.allowed).map((x) => x.op);
      r.message = e.message;
    }
    r.childrenAfter = children();
    r.kernel = kernelSays(image);
    r.emulator = emulatorSays(image);
    out.push(r);
  }
  process.stdout.write(JSON.stringify(out, (k, v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v)));
}
main().catch((e) => {
  process.stderr.write(String(e && e.stack));
  process.exit(1);
});
