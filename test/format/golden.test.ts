// Golden bytes: every record of a known image, laid out field by field at the reference's
// offsets, in both byte orders; then spot checks of single fields at their absolute offsets.
import * as fs from 'fs';
import * as path from 'path';
import { HEAD_MAGIC, TAIL_MAGIC, X86_64_CONSTANTS, decode, encode, type Dialect } from '../../lib/format';
import { BOTH_DIALECTS, NUM, PREFIX_LEN, concat, expectedPrefix, extendedImage, goldenImage, hex, lay, record, walk, type Field } from './helpers';

const utsBuf = (le: boolean, s: string) => {
  const b = new Uint8Array(65);
  b.set(Buffer.from(s, 'utf8'));
  return record(le, 4, [['bytes', b]]);
};

function expectedGolden(le: boolean, layout: 88 | 96, dialect: Dialect): Uint8Array {
  const N = NUM[dialect];
  const objref = (objtype: number, ref: number) => record(le, 6, [['u32', objtype], ['s32', ref]]);
  const capsBlock: Field[] = [
    ['u32', 2], ['u32', 1], // inheritable lo, hi
    ['u32', 4], ['u32', 3], // permitted
    ['u32', 6], ['u32', 5], // effective
    ['u32', 8], ['u32', 7], // bounding
    ['u32', 0x15], ['u32', 0], // securebits, padding
  ];
  const credFields: Field[] = [
    ['u32', 1], ['u32', 3], ['u32', 2], ['u32', 4], // uid suid euid fsuid
    ['u32', 5], ['u32', 7], ['u32', 6], ['u32', 8], // gid sgid egid fsgid
    ['s32', 5], ['s32', 1], // user_ref, groupinfo_ref
    ...(layout === 96 ? ([['s32', 0], ['pad', 4]] as Field[]) : []),
    ...capsBlock,
  ];
  return concat(
    record(le, 1, [
      ['u64', HEAD_MAGIC], ['u16', 2], ['u16', 2], ['u16', 6], ['u16', 34], ['u16', 9], ['pad', 6],
      ...X86_64_CONSTANTS.map((c): Field => ['u16', c]),
      ['u64', 0x0102030405060708n], ['u64', 0x11n],
    ]),
    utsBuf(le, 'R'), utsBuf(le, 'V'), utsBuf(le, 'M'),
    expectedPrefix(le),
    record(le, N.TREE, [['u32', 1], ['pad', 4]]),
    record(le, 4, [['s32', 100], ['s32', 99], ['s32', 101], ['s32', 102], ['s32', 103], ['u32', 2]]),
    objref(N.O_GROUPINFO, 1), record(le, N.GROUPINFO, [['u32', 2], ['u32', 10], ['u32', 20], ['pad', 4]]),
    objref(N.O_USER_NS, 2), record(le, N.USER_NS, [['s32', 0], ['pad', 4]]),
    objref(N.O_USER, 3), record(le, N.USER, [['u32', 0], ['s32', 2]]),
    objref(N.O_USER_NS, 4), record(le, N.USER_NS, [['s32', 3], ['pad', 4]]),
    objref(N.O_USER, 5), record(le, N.USER, [['u32', 7], ['s32', 4]]),
    objref(N.O_CRED, 6), record(le, N.CRED, credFields),
    record(le, N.TASK_CREDS, [['s32', 6], ['s32', 6]]),
    record(le, 9001, [['u64', TAIL_MAGIC]]),
  );
}

describe.each([
  ['little', true],
  ['big', false],
] as const)('golden image, %s-endian', (order, le) => {
  describe.each(BOTH_DIALECTS)('%s', (dialect) => {
    const N = NUM[dialect];
    test.each([88, 96] as const)('CRED layout %i: every record byte for byte', (layout) => {
      const bytes = encode(goldenImage(order, layout, dialect));
      expect(hex(bytes)).toBe(hex(expectedGolden(le, layout, dialect)));
      expect(decode(bytes)).toEqual(goldenImage(order, layout, dialect));
    });

    test('record offsets and lengths', () => {
      const recs = walk(encode(goldenImage(order, 88, dialect)), le);
      expect(recs.map((r) => [r.offset, r.type, r.len])).toEqual([
        [0, 1, 72], [72, 4, 73], [145, 4, 73], [218, 4, 73],
        [291, 2, 16], [307, 3, 8], [315, 4, 19], [334, 7, 8],
        [342, N.TREE, 16], [358, 4, 32],
        [390, 6, 16], [406, N.GROUPINFO, 24], [430, 6, 16], [446, N.USER_NS, 16], [462, 6, 16], [478, N.USER, 16],
        [494, 6, 16], [510, N.USER_NS, 16], [526, 6, 16], [542, N.USER, 16], [558, 6, 16], [574, N.CRED, 88],
        [662, N.TASK_CREDS, 16], [678, 9001, 16],
      ]);
    });

    test('head magic, caps words and the GROUPINFO pad at absolute offsets', () => {
      const b = encode(goldenImage(order, 96, dialect));
      const v = new DataView(b.buffer, b.byteOffset);
      expect(v.getBigUint64(8, le)).toBe(HEAD_MAGIC);
      expect(hex(b.subarray(8, 16))).toBe(le ? '00d2a2c00cedfe00' : '00feed0cc0a2d200');
      // HEADER_ARCH at 291: has_fxsr 1, has_xsave 0, xstate_size 512. The LSM name at 315 + 8.
      expect([v.getUint16(299, le), v.getUint16(301, le), v.getUint16(303, le)]).toEqual([1, 0, 512]);
      expect(Buffer.from(b.subarray(323, 334)).toString('latin1')).toBe('default\0\0\0\0');
      // GROUPINFO at 406: ngroups 2, gids, then 4 zero bytes.
      expect(v.getUint32(406 + 8, le)).toBe(2);
      expect(hex(b.subarray(406 + 20, 406 + 24))).toBe('00000000');
      // CRED (96) at 574: sec_ref at 48, permitted lo/hi at 56+8.
      expect(v.getInt32(574 + 48, le)).toBe(0);
      expect(v.getUint32(574 + 64, le)).toBe(4);
      expect(v.getUint32(574 + 68, le)).toBe(3);
      expect(v.getUint32(574 + 88, le)).toBe(0x15);
      expect(v.getBigUint64(b.length - 8, le)).toBe(TAIL_MAGIC);
    });
  });

  test('v21 and v23 of the same image differ only in the record and object numbers', () => {
    const img = goldenImage(order, 88, 'v21');
    const a = encode(img);
    const b = encode(img, { dialect: 'v23' });
    expect(a.length).toBe(b.length);
    const differing: number[] = [];
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differing.push(i);
    // TREE, then per object its OBJREF's objtype and its record's type, then TASK_CREDS: each
    // one byte, v23 = v21 + 1.
    const at = (off: number) => (le ? off : off + 3);
    expect(differing).toEqual([342, 398, 406, 438, 446, 470, 478, 502, 510, 534, 542, 566, 574, 662].map(at));
    for (const i of differing) expect(b[i]).toBe(a[i] + 1);
    expect(decode(a).dialect).toBe('v21');
    expect(decode(b).dialect).toBe('v23');
    expect({ ...decode(b), dialect: 'v21' }).toEqual(decode(a));
  });
});

test('PREFIX_LEN is the length of the prefix the tests expect', () => expect(expectedPrefix(true).length).toBe(PREFIX_LEN));

describe('images written by cr-creds before dialects (2011 numbering, no prefix) still read, as v23', () => {
  const dir = path.join(__dirname, '..', 'fixtures', 'v23');
  test.each(fs.readdirSync(dir).filter((f) => f.endsWith('.img')))('%s', (name) => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(dir, name)));
    const img = decode(bytes);
    expect(img.dialect).toBe('v23');
    expect(img.prefix).toEqual({});
    // TREE (102) right after the uts buffers, as that encoder wrote it.
    const le = img.header.byteOrder === 'little';
    expect(walk(bytes, le)[4].type).toBe(102);
    // Written back as read: byte for byte; and as v21: the same model with the seed's numbers.
    expect(hex(encode(img))).toBe(hex(bytes));
    const v21 = encode(img, { dialect: 'v21' });
    expect(walk(v21, le)[4].type).toBe(101);
    expect({ ...decode(v21), dialect: 'v23' }).toEqual(img);
  });
});

describe.each([
  ['little', true],
  ['big', false],
] as const)('extension records, %s-endian', (order, le) => {
  test('CRED_EXT, USERNS_EXT and TASK_EXT bytes', () => {
    const bytes = encode(extendedImage(order));
    const recs = walk(bytes, le);
    const body = (r: { offset: number; len: number }) => bytes.subarray(r.offset, r.offset + r.len);
    const types = recs.map((r) => r.type);
    // USER_NS with maps: the ext right after it.
    const nsExt = recs.find((r) => r.type === 8002)!;
    expect(types[recs.indexOf(nsExt) - 1]).toBe(113); // v21 USER_NS
    const nsRef = new DataView(bytes.buffer, bytes.byteOffset).getInt32(recs[recs.indexOf(nsExt) - 2].offset + 12, le);
    expect(hex(body(nsExt))).toBe(
      hex(
        record(le, 8002, [
          ['s32', nsRef], ['u32', 0b11111], ['u64', 0x1_f000_0001n], ['u32', 1], ['u32', 2],
          ['u32', 0], ['u32', 1000], ['u32', 1],
          ['u32', 0], ['u32', 100], ['u32', 2], ['u32', 5], ['u32', 200], ['u32', 3],
          ['pad', 4], // 32 + 36 = 68, padded to 72
        ]),
      ),
    );
    const credExts = recs.filter((r) => r.type === 8001);
    expect(credExts).toHaveLength(2);
    for (const e of credExts) expect(types[recs.indexOf(e) - 1]).toBe(114); // v21 CRED
    const credRef = (e: (typeof recs)[number]) =>
      new DataView(bytes.buffer, bytes.byteOffset).getInt32(recs[recs.indexOf(e) - 2].offset + 12, le);
    // c1: ambient 0x1_00000400 (lo, hi), securebits 0x55 in full, 0x15 in the CRED.
    expect(hex(body(credExts[0]))).toBe(
      hex(record(le, 8001, [['s32', credRef(credExts[0])], ['u32', 0], ['u32', 0x400], ['u32', 1], ['u32', 0x55], ['pad', 4]])),
    );
    const c1 = recs[recs.indexOf(credExts[0]) - 1];
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(c1.offset + 48 + 32, le)).toBe(0x15);
    // c2: securebits unknown.
    expect(hex(body(credExts[1]))).toBe(
      hex(record(le, 8001, [['s32', credRef(credExts[1])], ['u32', 1], ['u32', 0], ['u32', 0], ['u32', 0], ['pad', 4]])),
    );
    const taskExt = recs.find((r) => r.type === 8003)!;
    expect(types[recs.indexOf(taskExt) - 1]).toBe(117); // v21 TASK_CREDS
    expect(hex(body(taskExt))).toBe(hex(record(le, 8003, [['u32', 1], ['pad', 4]])));
    expect(decode(bytes)).toEqual(extendedImage(order));
  });

  test('no extension record when nothing needs one', () => {
    const types = walk(encode(goldenImage(order)), le).map((r) => r.type);
    expect(types.filter((t) => t > 8000 && t < 8100)).toEqual([]);
  });
});

test('lay() sanity: the helper writes what it says', () => {
  expect(hex(lay(true, [['u32', 1], ['u16', 2]]))).toBe('010000000200');
  expect(hex(lay(false, [['u32', 1], ['u16', 2]]))).toBe('000000010002');
});
