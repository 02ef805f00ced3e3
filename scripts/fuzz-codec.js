#!/usr/bin/env node
// Longer fuzz run of the codec: node scripts/fuzz-codec.js [iterations=100000] [seed=1]
// (build first: npx tsc -p tsconfig.build.json). Mutates valid images of both dialects; decode must return an
// image or throw ImageFormatError, the stream reader must agree, and what decodes must encode.
'use strict';
const { Readable } = require('stream');
const { ImageBuilder, ImageFormatError, decode, encode, readImage } = require('../dist/format');
const { mutate, prng } = require('../dist/format/mutate');

const USAGE = 'usage: node scripts/fuzz-codec.js [iterations=100000] [seed=1]';
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const iterations = Number(process.argv[2] ?? 100000);
const seed = Number(process.argv[3] ?? 1);
if (!Number.isSafeInteger(iterations) || iterations < 0 || !Number.isSafeInteger(seed)) {
  console.error(`fuzz-codec: iterations and seed are whole numbers\n${USAGE}`);
  process.exit(2);
}

function seedsOf() {
  const out = [];
  for (const dialect of ['v21', 'v23']) for (const byteOrder of ['little', 'big']) {
    for (const credLayout of [88, 96]) {
      const b = new ImageBuilder({ header: { byteOrder, time: 1n }, credLayout, dialect });
      const ns = b.namespace(b.user(1000), { uidMap: [{ inside: 0, outside: 1000, count: 1 }], setgroups: 'deny', inode: 7n });
      const inner = b.namespace(b.user(0, ns));
      const c1 = b.cred({ uid: 1000, groups: [1, 2, 3], caps: { permitted: 0x400n, ambient: 0x400n }, securebits: 0x41 });
      const c2 = b.cred({ uid: 0, user: b.user(0, inner), securebits: null });
      b.task(c1);
      b.task(c1, { ecred: c2, noNewPrivs: true });
      b.task(c2);
      out.push([encode(b.build()), byteOrder === 'little']);
    }
  }
  return out;
}

function outcome(f) {
  try {
    return { ok: true, image: f() };
  } catch (e) {
    if (!(e instanceof ImageFormatError)) throw e;
    return { ok: false, code: e.code, offset: e.offset };
  }
}

async function streamed(bytes, chunk) {
  const parts = [];
  for (let p = 0; p < bytes.length; p += chunk) parts.push(Buffer.from(bytes.subarray(p, p + chunk)));
  try {
    return { ok: true, image: await readImage(Readable.from(parts)) };
  } catch (e) {
    if (!(e instanceof ImageFormatError)) throw e;
    return { ok: false, code: e.code, offset: e.offset };
  }
}

function same(a, b) {
  if (a.ok !== b.ok) return false;
  if (!a.ok) return a.code === b.code && a.offset === b.offset;
  return Buffer.compare(encode(a.image), encode(b.image)) === 0;
}

(async () => {
  const rand = prng(seed);
  const seeds = seedsOf();
  const codes = new Map();
  let ok = 0;
  let slowest = 0;
  const t0 = Date.now();
  for (let i = 0; i < iterations; i++) {
    const [bytes, le] = seeds[i % seeds.length];
    const input = mutate(bytes, rand, le);
    const s = process.hrtime.bigint();
    const d = outcome(() => decode(input));
    slowest = Math.max(slowest, Number(process.hrtime.bigint() - s) / 1e6);
    const st = await streamed(input, 1 + Math.floor(rand() * 64));
    if (!same(d, st)) {
      console.error(`iteration ${i}: decode and the stream reader disagree`, d, st, Buffer.from(input).toString('hex'));
      process.exit(1);
    }
    if (d.ok) {
      ok++;
      decode(encode(d.image));
    } else codes.set(d.code, (codes.get(d.code) ?? 0) + 1);
  }
  console.log(`${iterations} inputs (seed ${seed}) in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${ok} decoded; slowest decode ${slowest.toFixed(2)} ms`);
  for (const [code, n] of [...codes].sort((a, b) => b[1] - a[1])) console.log(`  ${code.padEnd(34)} ${n}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
