#!/usr/bin/env node
// Codec speed beside a raw DataView scan of the same bytes, measured in one run:
//   node scripts/bench-codec.js [--against DIR]    (build first: npx tsc -p tsconfig.build.json)
// The scan walks the records reading type and len and every u32 of each record: the floor any
// decoder of this format pays. Goal: decode within 3x of it.
// --against DIR: also decode with DIR/dist/format (another build, e.g. of an older commit:
// `git archive <rev> lib tsconfig*.json package.json | tar -x -C DIR`, link node_modules, tsc),
// interleaved in the same rounds, so before and after are measured under the same load.
'use strict';
const path = require('path');
const { ImageBuilder, decode, encode } = require('../dist/format');

const againstAt = process.argv.indexOf('--against');
const against = againstAt > 0 ? require(path.resolve(process.argv[againstAt + 1], 'dist/format')) : undefined;

function oneTask(dialect) {
  const b = new ImageBuilder({ dialect });
  b.task(b.cred({ uid: 1000, gid: 1000, groups: [4, 24, 27, 1000], caps: { bounding: (1n << 41n) - 1n } }));
  return b.build();
}

function manyTasks(n, dialect) {
  const b = new ImageBuilder({ dialect });
  const ns = b.namespace(b.user(1000), { uidMap: [{ inside: 0, outside: 100000, count: 65536 }] });
  const creds = [];
  for (let i = 0; i < 16; i++) {
    creds.push(b.cred({
      uid: i % 2 ? 1000 + i : 0,
      gid: 100 + i,
      groups: [100 + i, 200, 300],
      user: i % 4 === 3 ? b.user(i, ns) : undefined,
      caps: { permitted: BigInt(i) << 20n, effective: BigInt(i), bounding: (1n << 41n) - 1n, ambient: i === 5 ? 1n : 0n },
    }));
  }
  for (let i = 0; i < n; i++) b.task(creds[i % 16], i % 7 === 0 ? { ecred: creds[(i + 1) % 16] } : {});
  return b.build();
}

/** The raw scan: every record's type and len, then every u32 inside it. */
function scan(bytes) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let sum = 0;
  for (let off = 0; off < bytes.length; ) {
    const type = v.getUint32(off, true);
    const len = v.getUint32(off + 4, true);
    sum = (sum + type) | 0;
    const end = off + len - 3;
    for (let p = off + 8; p < end; p += 4) sum = (sum + v.getUint32(p, true)) | 0;
    off += len;
  }
  return sum;
}

/** Calls per round so that one round of `fn` takes about `ms`. */
function calibrate(fn, ms) {
  const t0 = process.hrtime.bigint();
  let calls = 0;
  while (Number(process.hrtime.bigint() - t0) < 20e6) (fn(), calls++);
  return Math.max(1, Math.round((calls * ms) / 20));
}

/**
 * ns per call of each fn, measured side by side: rounds interleave the functions, and each keeps
 * its fastest round, so load from other processes (a shared CI box) hits them alike.
 */
function measureSideBySide(fns, rounds = 25, ms = 40) {
  const per = fns.map((fn) => calibrate(fn, ms));
  const best = fns.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, k) => {
      const s = process.hrtime.bigint();
      for (let i = 0; i < per[k]; i++) fn();
      best[k] = Math.min(best[k], Number(process.hrtime.bigint() - s) / per[k]);
    });
  }
  return best;
}

const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(2)} us`);

// The small cases first, both dialects side by side: a case measured after a big one runs in
// the young generation the big one grew (16 MB), where each allocation costs more, and the two
// dialects of one size are to be compared under the same conditions.
const cases = [];
for (const dialect of ['v21', 'v23']) cases.push([`${dialect}, 1 task`, oneTask(dialect)]);
for (const dialect of ['v21', 'v23']) cases.push([`${dialect}, 10,000 tasks, 16 shared creds`, manyTasks(10000, dialect)]);
for (const [name, img] of cases) {
  const bytes = encode(img);
  const fns = [() => scan(bytes), () => decode(bytes), () => encode(img)];
  if (against) fns.push(() => against.decode(bytes));
  const [tScan, tDecode, tEncode, tAgainst] = measureSideBySide(fns);
  console.log(`${name}: ${bytes.length} bytes`);
  const w = against ? 18 : 9;
  console.log(`  ${'raw scan'.padEnd(w)} ${fmt(tScan).padStart(10)}   1.00x`);
  console.log(`  ${'decode'.padEnd(w)} ${fmt(tDecode).padStart(10)}   ${(tDecode / tScan).toFixed(2)}x of the scan${tDecode / tScan <= 3 ? '' : '  (goal: <= 3x)'}`);
  if (against) console.log(`  ${'decode, --against'.padEnd(w)} ${fmt(tAgainst).padStart(10)}   ${(tAgainst / tScan).toFixed(2)}x of the scan`);
  console.log(`  ${'encode'.padEnd(w)} ${fmt(tEncode).padStart(10)}   ${(tEncode / tScan).toFixed(2)}x of the scan`);
}
