// Round trips over generated images: values and sharing survive encode -> decode, canonical
// bytes survive decode -> encode, and the stream reader agrees with decode.
import fc from 'fast-check';
import { Readable } from 'stream';
import { ImageBuilder, ImageEncodeError, decode, encode, readImage } from '../../lib/format';
import { arbImage, sharingShape } from './arbitraries';
import { walk } from './helpers';

const chunked = (bytes: Uint8Array, sizes: number[]) => {
  const parts: Buffer[] = [];
  let p = 0;
  for (let i = 0; p < bytes.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length] ?? 1);
    parts.push(Buffer.from(bytes.subarray(p, p + n)));
    p += n;
  }
  return Readable.from(parts);
};

test('decode(encode(img)) equals img, with the same sharing, in both dialects x byte orders x CRED layouts', () => {
  const seen = new Set<string>();
  fc.assert(
    fc.property(arbImage(), (img) => {
      seen.add(`${img.dialect} ${img.header.byteOrder} ${img.credLayout}`);
      const back = decode(encode(img));
      // An image without a CRED cannot show its layout; it reads as 88 (docs/image-format.md).
      expect(back).toEqual(img.tasks.length === 0 ? { ...img, credLayout: 88 } : img);
      expect(sharingShape(back)).toEqual(sharingShape(img));
    }),
    { numRuns: 300, seed: 42 },
  );
  expect(seen.size).toBe(8);
});

test('encode(decode(b)) is b byte for byte', () => {
  fc.assert(
    fc.property(arbImage(), (img) => {
      const b = encode(img);
      expect(Buffer.compare(encode(decode(b)), b)).toBe(0);
    }),
    { numRuns: 300, seed: 7 },
  );
});

test('the stream reader agrees with decode, whatever the chunking', async () => {
  await fc.assert(
    fc.asyncProperty(arbImage(), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 8 }), async (img, sizes) => {
      const b = encode(img);
      const streamed = await readImage(chunked(b, sizes));
      expect(streamed).toEqual(decode(b));
      expect(sharingShape(streamed)).toEqual(sharingShape(img));
    }),
    { numRuns: 100, seed: 3 },
  );
});

test('without extension state, compat linux-cr writes the same bytes; with it, encode refuses', () => {
  fc.assert(
    fc.property(arbImage(), (img) => {
      const b = encode(img);
      const hasExt = walk(b, img.header.byteOrder === 'little').some((r) => r.type > 8000 && r.type < 8100);
      if (hasExt) expect(() => encode(img, { compat: 'linux-cr' })).toThrow(ImageEncodeError);
      else expect(Buffer.compare(encode(img, { compat: 'linux-cr' }), b)).toBe(0);
    }),
    { numRuns: 200, seed: 11 },
  );
});

describe('compat linux-cr names what it cannot express', () => {
  const b = () => new ImageBuilder();
  test.each([
    ['ambient', (x: ImageBuilder) => x.task(x.cred({ uid: 0, caps: { ambient: 1n } })), /task 0 \(vpid 1\): real cred: ambient capabilities/],
    ['securebits above bit 5', (x: ImageBuilder) => x.task(x.cred({ uid: 0, securebits: 0x100 })), /securebits above bit 5 \(0x100\)/],
    ['unknown securebits', (x: ImageBuilder) => x.task(x.cred({ uid: 0, securebits: null })), /unknown securebits/],
    ['no_new_privs', (x: ImageBuilder) => x.task(x.cred({ uid: 0 }), { noNewPrivs: true }), /task 0 \(vpid 1\): no_new_privs/],
    ['uid_map', (x: ImageBuilder) => x.task(x.cred({ uid: 0, user: x.user(0, x.namespace(x.user(0), { uidMap: [] })) })), /user namespace uid_map/],
    ['setgroups in an ecred', (x: ImageBuilder) => x.task(x.cred({ uid: 0 }), { ecred: x.cred({ uid: 1, user: x.user(1, x.namespace(x.user(0), { setgroups: 'deny' })) }) }), /effective cred: user namespace setgroups/],
  ])('%s', (_name, add, message) => {
    const x = b();
    add(x);
    let err: unknown;
    try {
      encode(x.build(), { compat: 'linux-cr' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImageEncodeError);
    expect((err as ImageEncodeError).code).toBe('ERR_IMAGE_NOT_EXPRESSIBLE');
    expect((err as Error).message).toMatch(message);
    expect(() => encode(x.build())).not.toThrow();
  });
});

describe('SECURITY objects (96-byte layout)', () => {
  test('kept opaque, named by sec_ref, and round-trip byte for byte', () => {
    const x = new ImageBuilder({ credLayout: 96 });
    const img = x.build();
    const body = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    img.security = [{ objref: 4, type: 8, body }];
    // GROUPINFO 1, USER_NS 2, USER 3: the SECURITY object comes next as 4, before the CRED.
    img.tasks.push({ pids: { vpid: 1, vppid: 0, vtgid: 1, vpgid: 1, vsid: 1, depth: 0 }, cred: x.cred({ uid: 0, secRef: 4 }), ecred: undefined as never, noNewPrivs: false });
    img.tasks[0].ecred = img.tasks[0].cred;
    const bytes = encode(img);
    const back = decode(bytes);
    expect(back).toEqual(img);
    expect(back.tasks[0].cred.secRef).toBe(4);
    expect(Buffer.compare(encode(back), bytes)).toBe(0);
  });

  test('a sec_ref in the 88-byte layout cannot be expressed', () => {
    const x = new ImageBuilder({ credLayout: 88 });
    x.task(x.cred({ uid: 0, secRef: -3 }));
    expect(() => encode(x.build())).toThrow(/sec_ref -3 needs the 96-byte CRED layout/);
  });

  test('a negative sec_ref is kept verbatim (none)', () => {
    const x = new ImageBuilder({ credLayout: 96 });
    x.task(x.cred({ uid: 0, secRef: -3 }));
    expect(decode(encode(x.build())).tasks[0].cred.secRef).toBe(-3);
  });
});

test('uid_map [] (maps not written yet) differs from no map known', () => {
  const x = new ImageBuilder();
  const ns = x.namespace(x.user(0), { uidMap: [] });
  x.task(x.cred({ uid: 0, user: x.user(0, ns) }));
  const back = decode(encode(x.build()));
  expect(back.tasks[0].cred.user.ns.uidMap).toEqual([]);
  expect(back.tasks[0].cred.user.ns.gidMap).toBeUndefined();
});
