// Both dialects against images shaped as real kernels write them: the optional prefix with and
// without its parts, and records of every type the series defines, with OBJREFs of foreign
// object types, between and around the creds records.
import fc from 'fast-check';
import { Readable } from 'stream';
import { ImageFormatError, decode, encode, readImage, validate, type Dialect, type ImagePrefix } from '../../lib/format';
import { arbImage } from './arbitraries';
import { BOTH_DIALECTS, NUM, PREFIX_LEN, concat, extendedImage, goldenImage, record, splice, walk } from './helpers';
import { FOREIGN_KINDS, ForeignRecords, bodyBoundaries, rng, withForeignRecords } from './real-kernel';

const stream = (b: Uint8Array, chunk = 7) => {
  const parts: Buffer[] = [];
  for (let p = 0; p < b.length; p += chunk) parts.push(Buffer.from(b.subarray(p, p + chunk)));
  return Readable.from(parts);
};

function failure(f: () => unknown): ImageFormatError {
  try {
    f();
  } catch (e) {
    if (e instanceof ImageFormatError) return e;
    throw e;
  }
  throw new Error('no error');
}

const name11 = (s: string) => {
  const b = new Uint8Array(11);
  b.set(Buffer.from(s, 'latin1'));
  return b;
};

describe.each(BOTH_DIALECTS)('%s', (dialect) => {
  const N = NUM[dialect];

  describe('detection, with and without the optional prefix', () => {
    const prefixes: [string, ImagePrefix][] = [
      ['none (as cr-creds wrote before)', {}],
      ['HEADER_ARCH only', { headerArch: Uint8Array.from([1, 0, 0, 0, 0, 2, 0, 0]) }],
      ['CONTAINER alone', { container: { body: new Uint8Array(0) } }],
      ['CONTAINER and the LSM name', { container: { body: new Uint8Array(0), lsmName: name11('selinux') } }],
      ['CONTAINER and LSM_INFO', { container: { body: new Uint8Array(0), lsmInfo: Uint8Array.from([1, 2, 3, 4]) } }],
      ['all of it', { headerArch: new Uint8Array(8), container: { body: new Uint8Array(0), lsmName: name11('smack'), lsmInfo: new Uint8Array(16) } }],
    ];
    test.each(prefixes)('%s', async (_, prefix) => {
      for (const order of ['little', 'big'] as const) {
        const img = { ...goldenImage(order, 88, dialect), prefix };
        const bytes = encode(img);
        const back = decode(bytes);
        expect(back.dialect).toBe(dialect);
        expect(back).toEqual(img);
        expect(await readImage(stream(bytes))).toEqual(back);
        expect(Buffer.compare(encode(back), bytes)).toBe(0);
        // The record after the prefix is TREE: 101 in v21, 102 in v23.
        const recs = walk(bytes, order === 'little');
        expect(recs.find((r) => r.type === 101 || r.type === 102)!.type).toBe(N.TREE);
      }
    });

    const g = () => encode(goldenImage('little', 88, dialect));
    const at = { arch: 291, container: 307, name: 315, info: 334, tree: 291 + PREFIX_LEN };
    test.each([
      ['HEADER_ARCH after CONTAINER', () => splice(g(), at.tree, 0, record(true, 2, [['pad', 8]])), at.tree, 'HEADER_ARCH'],
      ['a second CONTAINER', () => splice(g(), at.tree, 0, record(true, 3, [])), at.tree, 'CONTAINER'],
      ['a BUFFER without CONTAINER before it', () => splice(g(), at.container, 8), at.container, 'BUFFER'],
      ['LSM_INFO twice', () => splice(g(), at.tree, 0, record(true, 7, [])), at.tree, 'LSM_INFO'],
      ['an OBJREF before TREE', () => splice(g(), at.tree, 0, record(true, 6, [['u32', N.O_CRED], ['s32', 1]])), at.tree, 'OBJREF'],
      ['TASK_CREDS before TREE', () => splice(g(), at.tree, 0, record(true, N.TASK_CREDS, [['s32', 1], ['s32', 1]])), at.tree, 'TASK_CREDS'],
    ] as const)('record-order: %s', async (_, make, offset, rec) => {
      const b = make();
      const e = failure(() => decode(b));
      expect({ rule: e.rule, offset: e.offset, record: e.record }).toEqual({ rule: 'record-order', offset, record: rec });
      await expect(readImage(stream(b))).rejects.toMatchObject({ message: e.message });
    });

    test('an LSM-name BUFFER longer than 264 bytes is refused', () => {
      const b = splice(g(), at.name, 19, record(true, 4, [['pad', 257]]));
      expect(failure(() => decode(b))).toMatchObject({ rule: 'record-len', offset: at.name, record: 'BUFFER' });
    });
  });

  test('objtype: the last object type of the table', () => {
    // SEM_UNDO is 22 in v21 and 23 in v23; one past it is refused, SEM_UNDO itself passed over.
    const g = encode(goldenImage('little', 88, dialect));
    const tree = walk(g).find((r) => r.type === N.TREE)!;
    const at = tree.offset + 16 + 32;
    const semUndo = concat(record(true, 6, [['u32', N.O_SEM_UNDO], ['s32', 999]]), record(true, 455, [['pad', 16]]));
    expect(decode(splice(g, at, 0, semUndo))).toEqual(decode(g));
    const past = record(true, 6, [['u32', N.O_MAX + 1], ['s32', 999]]);
    expect(failure(() => decode(splice(g, at, 0, past)))).toMatchObject({ rule: 'objtype', offset: at, record: 'OBJREF' });
  });

  describe('records of every type a real kernel writes, between and around the creds records', () => {
    test.each(FOREIGN_KINDS)('%s at every place of the body, both byte orders, both CRED layouts', async (kind) => {
      for (const [order, le] of [['little', true], ['big', false]] as const)
        for (const layout of [88, 96] as const)
          for (const img of [goldenImage(order, layout, dialect), { ...extendedImage(order, dialect), credLayout: layout }]) {
            const bytes = encode(img);
            const want = decode(bytes);
            const group = new ForeignRecords(dialect, le, rng(kind.length)).group(kind);
            for (const off of bodyBoundaries(bytes, le, dialect)) {
              const b = splice(bytes, off, 0, group);
              expect(decode(b)).toEqual(want);
              expect(validate(b)).toEqual([]);
            }
            const all = withForeignRecords(bytes, le, dialect, 1, 20);
            expect(await readImage(stream(all, 61))).toEqual(want);
          }
    });

    test('generated images with many foreign records decode as without them; the stream reader agrees', async () => {
      await fc.assert(
        fc.asyncProperty(arbImage(), fc.integer({ min: 1, max: 1e9 }), fc.integer({ min: 1, max: 16 }), async (img, seed, count) => {
          const bytes = encode(img, { dialect });
          const le = img.header.byteOrder === 'little';
          const b = withForeignRecords(bytes, le, dialect, seed, count);
          const want = decode(bytes);
          expect(want.dialect).toBe(dialect);
          expect(decode(b)).toEqual(want);
          expect(await readImage(stream(b, 1 + (seed % 97)))).toEqual(want);
        }),
        { numRuns: 60, seed: 11 },
      );
    });

    test('the rules still hold among foreign records: a cred naming a foreign object, a broken GROUPINFO', () => {
      const bytes = encode(goldenImage('little', 88, dialect));
      const b = withForeignRecords(bytes, true, dialect, 5, 12);
      const recs = walk(b);
      const foreign = recs.find((r) => r.type === 6 && new DataView(b.buffer, b.byteOffset).getInt32(r.offset + 12, true) >= 100000)!;
      const v = new DataView(b.buffer, b.byteOffset);
      const foreignRef = v.getInt32(foreign.offset + 12, true);
      const foreignType = v.getUint32(foreign.offset + 8, true);
      const cred = recs.find((r) => r.type === N.CRED)!;
      const c = b.slice();
      new DataView(c.buffer).setInt32(cred.offset + 44, foreignRef, true);
      const e = failure(() => decode(c));
      if (foreign.offset < cred.offset) {
        expect({ rule: e.rule, offset: e.offset, record: e.record }).toEqual({ rule: 'ref-type', offset: cred.offset, record: 'CRED' });
        expect(e.message).toContain(`names a ${Object.entries(N).find(([k, x]) => k.startsWith('O_') && k !== 'O_MAX' && x === foreignType)![0].slice(2)} object, not GROUPINFO`);
      } else expect(e.rule).toBe('ref-missing');
      const gi = recs.find((r) => r.type === N.GROUPINFO)!;
      const d = b.slice();
      new DataView(d.buffer).setUint32(gi.offset + 16, 10, true);
      expect(failure(() => decode(d))).toMatchObject({ rule: 'groups-order', offset: gi.offset, record: 'GROUPINFO' });
    });

    test('a foreign record over the 1 MiB limit is refused before it is buffered', async () => {
      const bytes = encode(goldenImage('little', 88, dialect));
      const off = bodyBoundaries(bytes, true, dialect)[0];
      const head = concat(bytes.subarray(0, off), record(true, 402, []).map((x, i) => (i === 4 ? 0 : x)));
      new DataView(head.buffer).setUint32(off + 4, (1 << 20) + 8, true);
      let pulled = 0;
      const endless = Readable.from(
        (function* () {
          yield Buffer.from(head);
          for (;;) {
            pulled++;
            yield Buffer.alloc(65536);
          }
        })(),
      );
      await expect(readImage(endless)).rejects.toMatchObject({ rule: 'record-too-large', offset: off, record: 'MEMORY_402' });
      expect(pulled).toBeLessThanOrEqual(1);
      endless.destroy();
    });
  });
});

test('the same bytes read as v21 or v23 by TREE alone (what follows the prefix)', () => {
  const img = goldenImage('little', 88, 'v21');
  const as: Record<Dialect, Uint8Array> = { v21: encode(img), v23: encode(img, { dialect: 'v23' }) };
  for (const d of BOTH_DIALECTS) expect(decode(as[d]).dialect).toBe(d);
});
