// Both dialects against images shaped as real kernels write them: the optional prefix with and
// without its parts, and records of every type the series defines, with OBJREFs of foreign
// object types, between and around the creds records.
import fc from 'fast-check';
import { Readable } from 'stream';
import { ImageEncodeError, ImageFormatError, decode, encode, readImage, validate, type Dialect, type ImagePrefix } from '../../lib/format';
import { arbImage } from './arbitraries';
import { BOTH_DIALECTS, NUM, PREFIX_LEN, concat, endlessAfter, extendedImage, goldenImage, record, splice, walk } from './helpers';
import { FOREIGN_KINDS, ForeignRecords, bodyBoundaries, rng, withForeignRecords, withV23KernelPids } from './real-kernel';

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

const name11 = (s: string) => s.padEnd(11, '\0');
const bytes = (...b: number[]) => Buffer.from(b).toString('latin1');
const zeros = (n: number) => '\0'.repeat(n);

describe.each(BOTH_DIALECTS)('%s', (dialect) => {
  const N = NUM[dialect];

  describe('detection, with and without the optional prefix', () => {
    const prefixes: [string, ImagePrefix][] = [
      ['none (as cr-creds wrote before)', {}],
      ['HEADER_ARCH only', { headerArch: bytes(1, 0, 0, 0, 0, 2, 0, 0) }],
      ['CONTAINER alone', { container: { body: '' } }],
      ['CONTAINER and the LSM name', { container: { body: '', lsmName: name11('selinux') } }],
      ['CONTAINER and LSM_INFO', { container: { body: '', lsmInfo: bytes(1, 2, 3, 4) } }],
      ['all of it', { headerArch: zeros(8), container: { body: '', lsmName: name11('smack'), lsmInfo: zeros(16) } }],
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
      const endless = endlessAfter(head);
      await expect(readImage(endless.stream)).rejects.toMatchObject({ rule: 'record-too-large', offset: off, record: 'MEMORY_402' });
      expect(endless.pulled()).toBeLessThanOrEqual(1);
      endless.stream.destroy();
    });
  });
});

test('prefix bodies are byte strings: every byte value reads and writes back, decode after decode; other chars are refused', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
  const prefix: ImagePrefix = { headerArch: all.slice(0, 8), container: { body: all.slice(250), lsmName: name11('apparmor'), lsmInfo: all } };
  const bytes = encode({ ...goldenImage('big', 88, 'v21'), prefix });
  const a = decode(bytes);
  expect(a.prefix).toEqual(prefix);
  expect(encode(a)).toEqual(bytes);
  // Bodies kept from the last decode are handed out only for the same bytes.
  const other = encode({ ...goldenImage('big', 88, 'v21'), prefix: { headerArch: all.slice(1, 9), container: { body: all.slice(251), lsmInfo: all.slice(1) } } });
  expect(decode(other).prefix).toEqual({ headerArch: all.slice(1, 9), container: { body: all.slice(251), lsmInfo: all.slice(1) } });
  expect(decode(bytes).prefix).toEqual(prefix);
  for (const bad of [{ headerArch: '\u0100' }, { container: { body: '', lsmName: 'caf\u00e9\u20ac' } }, { headerArch: new Uint8Array(8) as unknown as string }])
    expect(() => encode({ ...goldenImage(), prefix: bad })).toThrow(ImageEncodeError);
});

test('the same bytes read as v21 or v23 by TREE alone (what follows the prefix)', () => {
  const img = goldenImage('little', 88, 'v21');
  const as: Record<Dialect, Uint8Array> = { v21: encode(img), v23: encode(img, { dialect: 'v23' }) };
  for (const d of BOTH_DIALECTS) expect(decode(as[d]).dialect).toBe(d);
});

describe('a v23 kernel image: PIDS and its PID objects before TREE', () => {
  const prefixes: ImagePrefix[] = [{}, { headerArch: zeros(8), container: { body: '', lsmName: name11('selinux'), lsmInfo: zeros(8) } }];

  test.each([4, 8] as const)('read as v23 (PID object fixed part %i bytes), both byte orders, with and without the prefix; the stream reader agrees', async (entry) => {
    for (const order of ['little', 'big'] as const)
      for (const prefix of prefixes)
        for (const img of [goldenImage(order, 88, 'v23'), extendedImage(order, 'v23')]) {
          const le = order === 'little';
          const plain = encode({ ...img, prefix });
          const b = withV23KernelPids(plain, le, { entry });
          const recs = walk(b, le);
          const pids = recs.findIndex((r) => r.type === 101);
          expect(recs.slice(pids, pids + 3).map((r) => [r.type, r.len][0])).toEqual([101, 4, 102]);
          expect(recs[pids].len).toBe(24);
          const back = decode(b);
          expect(back.dialect).toBe('v23');
          expect(back).toEqual(decode(plain));
          expect(validate(b)).toEqual([]);
          expect(await readImage(stream(b, 5))).toEqual(back);
          // With foreign records in the body too.
          const all = withForeignRecords(b, le, 'v23', 3, 10);
          expect(decode(all)).toEqual(back);
          expect(await readImage(stream(all, 61))).toEqual(back);
        }
  });

  test('generated images: the PIDS part changes nothing the reader returns', async () => {
    await fc.assert(
      // A kernel always has a task to write (nr_pids > 0).
      fc.asyncProperty(arbImage().filter((i) => i.tasks.length > 0), fc.constantFrom(4 as const, 8 as const), fc.integer({ min: 1, max: 1e9 }), async (img, entry, seed) => {
        const le = img.header.byteOrder === 'little';
        const plain = encode(img, { dialect: 'v23' });
        const b = withForeignRecords(withV23KernelPids(plain, le, { entry }), le, 'v23', seed, 4);
        const want = decode(plain);
        expect(decode(b)).toEqual(want);
        expect(await readImage(stream(b, 1 + (seed % 89)))).toEqual(want);
      }),
      { numRuns: 40, seed: 23 },
    );
  });

  const base = () => encode(goldenImage('little', 88, 'v23'));
  const pidsAt = () => walk(base()).find((r) => r.type === 102)!.offset;
  test.each([
    ['nr_pids 0', { nrPids: 0 }, 'pids-count', 0, 'PIDS', 'nr_pids 0 is not positive'],
    ['nr_pids negative', { nrPids: -5 }, 'pids-count', 0, 'PIDS', 'nr_pids -5 is not positive'],
    ['nr_vpids negative', { nrVpids: -1 }, 'pids-count', 0, 'PIDS', 'nr_vpids -1 is negative'],
    ['offset negative', { offset: -2 }, 'pids-count', 0, 'PIDS', 'offset -2 is negative'],
    ['a PID-objects BUFFER too short', { bufferBody: 2 }, 'pids-buffer', 24, 'BUFFER', 'len 10, but PIDS counts 1 pids and 0 vpids (a body of 4 or 8 bytes)'],
    ['a PID-objects BUFFER too long', { bufferBody: 12 }, 'pids-buffer', 24, 'BUFFER', 'len 20'],
    ['nr_pids past what the BUFFER holds', { nrPids: 3 }, 'pids-buffer', 24, 'BUFFER', 'PIDS counts 3 pids'],
    ['nr_vpids past what the BUFFER holds', { nrVpids: 3 }, 'pids-buffer', 24, 'BUFFER', '3 vpids'],
  ] as const)('%s', async (_, opts, rule, rel, rec, text) => {
    const b = withV23KernelPids(base(), true, opts);
    const e = failure(() => decode(b));
    expect({ rule: e.rule, offset: e.offset, record: e.record }).toEqual({ rule, offset: pidsAt() + rel, record: rec });
    expect(e.message).toContain(text);
    await expect(readImage(stream(b))).rejects.toMatchObject({ rule, offset: pidsAt() + rel, message: e.message });
    expect(validate(b)[0].message).toBe(e.message);
  });

  test('record 101 neither 16 (v21 TREE) nor 24 (v23 PIDS) bytes is refused', () => {
    const b = withV23KernelPids(base(), true);
    const at = pidsAt();
    const c = splice(b, at, 24, record(true, 101, [['s32', 1], ['s32', 0], ['s32', 1], ['pad', 12]]));
    expect(failure(() => decode(c))).toMatchObject({ rule: 'record-len', offset: at, record: 'TREE' });
  });

  test('after PIDS: a BUFFER must come, then TREE 102 (not a v21 TREE, not a second PIDS)', async () => {
    const b = withV23KernelPids(base(), true);
    const at = pidsAt();
    const noBuffer = splice(b, at + 24, 16);
    expect(failure(() => decode(noBuffer))).toMatchObject({ rule: 'record-order', offset: at + 24, record: 'TREE' });
    const twice = splice(b, at + 40, 0, b.subarray(at, at + 24));
    const e = failure(() => decode(twice));
    expect(e).toMatchObject({ rule: 'record-order', offset: at + 40, record: 'PIDS' });
    await expect(readImage(stream(twice))).rejects.toMatchObject({ message: e.message });
    // Records the series places elsewhere are passed over there, as between TREE and its BUFFER.
    const foreign = splice(b, at + 40, 0, record(true, 302, [['pad', 8]]));
    expect(decode(foreign)).toEqual(decode(base()));
  });

  test('PIDS in the body is refused', () => {
    const b = withV23KernelPids(base(), true);
    const tail = walk(b).find((r) => r.type === 9001)!.offset;
    const c = splice(b, tail, 0, b.subarray(pidsAt(), pidsAt() + 24));
    expect(failure(() => decode(c))).toMatchObject({ rule: 'record-order', offset: tail, record: 'PIDS' });
  });

  test('a PID-objects BUFFER over the BUFFER limit is refused before it is buffered', async () => {
    const b = withV23KernelPids(base(), true);
    const at = pidsAt() + 24;
    const head = b.slice(0, at + 8);
    new DataView(head.buffer).setUint32(at + 4, 8 + 24 * (1 << 22) + 8, true);
    const endless = endlessAfter(head);
    await expect(readImage(endless.stream)).rejects.toMatchObject({ rule: 'record-too-large', offset: at, record: 'BUFFER' });
    expect(endless.pulled()).toBeLessThanOrEqual(1);
    endless.stream.destroy();
  });
});
