// Fuzz in CI: 4000 mutations of valid images (fixed seed). decode only ever returns an image or
// throws ImageFormatError, promptly; the stream reader agrees with it on every input; and what
// decodes also encodes and decodes again. scripts/fuzz-codec.js runs the same loop for longer.
import { Readable } from 'stream';
import { ImageFormatError, decode, encode, readImage, type Image } from '../../lib/format';
import { mutate, prng } from '../../lib/format/mutate';
import { BOTH_DIALECTS, extendedImage, goldenImage } from './helpers';
import { withForeignRecords } from './real-kernel';

type Outcome = { ok: true; image: Image } | { ok: false; code: string; offset: number; record: string };

function outcome(f: () => Image): Outcome {
  try {
    return { ok: true, image: f() };
  } catch (e) {
    if (!(e instanceof ImageFormatError)) throw e; // anything else is a bug
    return { ok: false, code: e.code, offset: e.offset, record: e.record };
  }
}

async function streamOutcome(bytes: Uint8Array, chunk: number): Promise<Outcome> {
  const parts: Buffer[] = [];
  for (let p = 0; p < bytes.length; p += chunk) parts.push(Buffer.from(bytes.subarray(p, p + chunk)));
  try {
    return { ok: true, image: await readImage(Readable.from(parts)) };
  } catch (e) {
    if (!(e instanceof ImageFormatError)) throw e;
    return { ok: false, code: e.code, offset: e.offset, record: e.record };
  }
}

// Both dialects, with and without the prefix, and with foreign records among the creds ones.
const seeds: [Uint8Array, boolean][] = BOTH_DIALECTS.flatMap((d): [Uint8Array, boolean][] => [
  [encode(goldenImage('little', 88, d)), true],
  [encode(goldenImage('big', 96, d)), false],
  [encode({ ...extendedImage('little', d), prefix: {} }), true],
  [encode(extendedImage('big', d)), false],
  [withForeignRecords(encode(goldenImage('little', 96, d)), true, d, 3, 6), true],
]);

test('4000 mutated images, both dialects: an image or an ImageFormatError, and the stream reader agrees', async () => {
  const rand = prng(0xc0ffee);
  let decoded = 0;
  let slowest = 0;
  const codes = new Set<string>();
  for (let i = 0; i < 4000; i++) {
    const [seed, le] = seeds[i % seeds.length];
    const input = mutate(seed, rand, le);
    const t0 = performance.now();
    const d = outcome(() => decode(input));
    slowest = Math.max(slowest, performance.now() - t0);
    const s = await streamOutcome(input, 1 + Math.floor(rand() * 64));
    expect(s).toEqual(d);
    if (d.ok) {
      decoded++;
      // What decodes is a model encode accepts, and its bytes decode again.
      expect(() => decode(encode(d.image))).not.toThrow();
    } else codes.add(d.code);
  }
  // A hang guard, not a benchmark: an input that takes a second is a parser bug.
  expect(slowest).toBeLessThan(1000);
  // The mutations reach both outcomes and many rules.
  expect(decoded).toBeGreaterThan(20);
  expect(codes.size).toBeGreaterThan(10);
});
