#!/usr/bin/env node
// node scripts/agreement.js [cases=1000] [seed]: random credential op sequences run through the
// emulator and the real kernel (root needed), compared op by op and on the final creds. Prints
// the agreement count, each CredOp kind with its counts, cases per second, and the first
// disagreement shrunk to its smallest form. Needs `npx tsc -p tsconfig.build.json` first.
'use strict';
const fc = require('fast-check');
const { AgreementHarness, agreementCase, coverage } = require('../dist/agreement');

const n = Number(process.argv[2] ?? 1000);
const seed = process.argv[3] !== undefined ? Number(process.argv[3]) : Date.now() % 2 ** 31;
const h = new AgreementHarness();
const arb = agreementCase({ lastCap: h.lastCap });
const cov = coverage();
const json = (x) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));

const cases = fc.sample(arb, { numRuns: n, seed });
let agree = 0;
const kinds = new Map();
const t0 = process.hrtime.bigint();
for (const c of cases) {
  const r = h.run(c);
  cov.add(c, r);
  if (r.agree) agree++;
  else for (const d of r.disagreements) kinds.set(d.what, (kinds.get(d.what) ?? 0) + 1);
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const bad = n - agree;
console.log(`seed ${seed}: ${agree}/${n} cases agree, ${bad} disagree (${(n / secs).toFixed(0)} cases/s, ${secs.toFixed(1)} s)`);
console.log('operations covered (runs, ok, refusals by errno):');
for (const [op, s] of Object.entries(cov.ops)) {
  const errs = Object.entries(s.errnos).map(([e, k]) => `${e} ${k}`).join(', ');
  console.log(`  ${op.padEnd(18)} ${String(s.runs).padStart(7)} ${String(s.ok).padStart(7)}  ${errs}`);
}
const un = cov.uncovered();
console.log(un.length ? `uncovered: ${un.join(', ')}` : 'every CredOp kind ran and succeeded at least once');
if (bad > 0) {
  console.log('disagreeing fields:', Object.fromEntries(kinds));
  const out = fc.check(fc.property(arb, (c) => h.run(c).agree), { seed, numRuns: n });
  if (out.failed) {
    const c = out.counterexample[0];
    console.log(`smallest disagreement (after ${out.numShrinks} shrinks):\n${json(c)}\n${json(h.run(c).disagreements)}`);
  }
  process.exitCode = 1;
}
