#!/usr/bin/env node
// Emulator speed, measured in one run beside the codec's decode of the same image:
//   npx tsc -p tsconfig.build.json && node scripts/bench-emulator.js
// Prints: emulated credential transitions per second (goal > 1,000,000/s), and restart of a
// 1,000-task image (goal < 50 ms) beside decode() of the same bytes, as a ratio.
'use strict';

let lib;
try {
  lib = { ...require('../dist/emulator'), ...require('../dist/format') };
} catch (e) {
  console.error('bench-emulator: build first: npx tsc -p tsconfig.build.json (' + e.message + ')');
  process.exit(2);
}
const { Emulator, decode } = lib;

const TASKS = Number(process.env.TASKS || 1000);
const ROUNDS = Number(process.env.ROUNDS || 30);
const OPS = Number(process.env.OPS || 2_000_000);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function ms(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

// --- transitions ---------------------------------------------------------------------------
// A mix a restorer really plays: id changes (with the capability fixup), fs ids, capset,
// securebits, ambient; each one a full kernel check, a new cred, reference counts and a step.
function transitions() {
  const emu = new Emulator('modern');
  const t = emu.initTask();
  emu.apply(t, { op: 'set_securebits', bits: 0x4 }); // NO_SETUID_FIXUP: the task stays able to switch back
  const full = (1n << 41n) - 1n;
  const ops = [
    { op: 'setresuid', ruid: 1000, euid: 1000, suid: 0 },
    { op: 'setfsuid', fsuid: 0 },
    { op: 'setresgid', rgid: 1000, egid: 1000, sgid: 1000 },
    { op: 'capset', inheritable: 1n << 13n, permitted: full, effective: full },
    { op: 'ambient_raise', cap: 13 },
    { op: 'ambient_lower', cap: 13 },
    { op: 'setresuid', ruid: 0, euid: 0, suid: 0 },
    { op: 'setresgid', rgid: 0, egid: 0, sgid: 0 },
  ];
  // warm up
  for (let i = 0; i < 200_000; i++) emu.apply(t, ops[i & 7]);
  let refused = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) if (!emu.apply(t, ops[i & 7]).ok) refused++;
  const took = ms(t0);
  if (refused) throw new Error(`bench: ${refused} transitions refused`);
  return (OPS / took) * 1000;
}

// --- restart of a 1,000-task image -----------------------------------------------------------
function image() {
  const emu = new Emulator('modern');
  const tasks = [emu.initTask()];
  const m = [{ inside: 0, outside: 100000, count: 65536 }];
  for (let i = 1; i < TASKS; i++) {
    const t = emu.initTask();
    const ops = [
      { op: 'setgroups', gids: [4, 24, 27, 1000 + (i % 17)] },
      { op: 'setresgid', rgid: 1000 + (i % 50), egid: 1000 + (i % 50), sgid: 1000 + (i % 50) },
    ];
    if (i % 4 === 0) {
      // a quarter in a user namespace of their own
      ops.push({ op: 'set_securebits', bits: 0x4 }, { op: 'setresuid', ruid: 100000, euid: 100000, suid: 100000 },
        { op: 'setresgid', rgid: 100000, egid: 100000, sgid: 100000 }, { op: 'unshare_user', uidMap: m, gidMap: m },
        { op: 'setresuid', ruid: 500, euid: 500, suid: 500 });
    } else {
      ops.push({ op: 'setresuid', ruid: 1000 + (i % 50), euid: 1000 + (i % 50), suid: 1000 + (i % 50) });
    }
    const r = emu.applyAll(t, ops);
    if (!r.ok) throw new Error('bench setup: ' + r.steps.at(-1).message);
    tasks.push(t);
  }
  return emu.checkpoint(tasks).bytes;
}

function main() {
  const rate = transitions();
  const bytes = image();
  const emu = new Emulator('modern');
  const root = emu.initTask();
  const decodeMs = [];
  const restartMs = [];
  const bothMs = [];
  for (let r = 0; r < ROUNDS + 3; r++) {
    let t0 = process.hrtime.bigint();
    const img = decode(bytes);
    const d = ms(t0);
    t0 = process.hrtime.bigint();
    const out = emu.restart(img, root);
    const rs = ms(t0);
    if (!out.ok) throw new Error('bench: restart refused: ' + out.steps.find((s) => !s.allowed).message);
    for (const t of out.restored) emu.exitTask(t);
    if (r >= 3) {
      decodeMs.push(d);
      restartMs.push(rs);
      bothMs.push(d + rs);
    }
  }
  const dm = median(decodeMs);
  const rm = median(restartMs);
  console.log(`emulated transitions: ${Math.round(rate).toLocaleString('en')}/s (goal > 1,000,000/s)`);
  console.log(`image: ${TASKS} tasks, ${bytes.length} bytes`);
  console.log(`restart (emulated): ${rm.toFixed(2)} ms median of ${ROUNDS} (goal < 50 ms)`);
  console.log(`decode of the same bytes: ${dm.toFixed(2)} ms; restart/decode = ${(rm / dm).toFixed(2)}x`);
  console.log(`decode + restart: ${median(bothMs).toFixed(2)} ms`);
}

main();
