// Golden bytes: every record of a known image, laid out field by field at the reference's
// offsets, in both byte orders; then spot checks of single fields at their absolute offsets.
import { HEAD_MAGIC, TAIL_MAGIC, X86_64_CONSTANTS, decode, encode } from '../../lib/format';
import { concat, extendedImage, goldenImage, hex, lay, record, walk, type Field } from './helpers';

const utsBuf = (le: boolean, s: string) => {
  const b = new Uint8Array(65);
  b.set(Buffer.from(s, 'utf8'));
  return record(le, 4, [['bytes', b]]);
};

function expectedGolden(le: boolean, layout: 88 | 96): Uint8Array {
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
    record(le, 102, [['u32', 1], ['pad', 4]]),
    record(le, 4, [['s32', 100], ['s32', 99], ['s32', 101], ['s32', 102], ['s32', 103], ['u32', 2]]),
    objref(16, 1), record(le, 117, [['u32', 2], ['u32', 10], ['u32', 20], ['pad', 4]]),
    objref(13, 2), record(le, 114, [['s32', 0], ['pad', 4]]),
    objref(15, 3), record(le, 116, [['u32', 0], ['s32', 2]]),
    objref(13, 4), record(le, 114, [['s32', 3], ['pad', 4]]),
    objref(15, 5), record(le, 116, [['u32', 7], ['s32', 4]]),
    objref(14, 6), record(le, 115, credFields),
    record(le, 118, [['s32', 6], ['s32', 6]]),
    record(le, 9001, [['u64', TAIL_MAGIC]]),
  );
}

describe.each([
  ['little', true],
  ['big', false],
] as const)('golden image, %s-endian', (order, le) => {
  test.each([88, 96] as const)('CRED layout %i: every record byte for byte', (layout) => {
    const bytes = encode(goldenImage(order, layout));
    expect(hex(bytes)).toBe(hex(expectedGolden(le, layout)));
    expect(decode(bytes)).toEqual(goldenImage(order, layout));
  });

  test('record offsets and lengths', () => {
    const recs = walk(encode(goldenImage(order, 88)), le);
    expect(recs.map((r) => [r.offset, r.type, r.len])).toEqual([
      [0, 1, 72], [72, 4, 73], [145, 4, 73], [218, 4, 73], [291, 102, 16], [307, 4, 32],
      [339, 6, 16], [355, 117, 24], [379, 6, 16], [395, 114, 16], [411, 6, 16], [427, 116, 16],
      [443, 6, 16], [459, 114, 16], [475, 6, 16], [491, 116, 16], [507, 6, 16], [523, 115, 88],
      [611, 118, 16], [627, 9001, 16],
    ]);
  });

  test('head magic, caps words and the GROUPINFO pad at absolute offsets', () => {
    const b = encode(goldenImage(order, 96));
    const v = new DataView(b.buffer, b.byteOffset);
    expect(v.getBigUint64(8, le)).toBe(HEAD_MAGIC);
    expect(hex(b.subarray(8, 16))).toBe(le ? '00d2a2c00cedfe00' : '00feed0cc0a2d200');
    // GROUPINFO at 355: ngroups 2, gids, then 4 zero bytes.
    expect(v.getUint32(355 + 8, le)).toBe(2);
    expect(hex(b.subarray(355 + 20, 355 + 24))).toBe('00000000');
    // CRED (96) at 523: sec_ref at 48, permitted lo/hi at 56+8.
    expect(v.getInt32(523 + 48, le)).toBe(0);
    expect(v.getUint32(523 + 64, le)).toBe(4);
    expect(v.getUint32(523 + 68, le)).toBe(3);
    expect(v.getUint32(523 + 88, le)).toBe(0x15);
    expect(v.getBigUint64(b.length - 8, le)).toBe(TAIL_MAGIC);
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
    expect(types[recs.indexOf(nsExt) - 1]).toBe(114);
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
    for (const e of credExts) expect(types[recs.indexOf(e) - 1]).toBe(115);
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
    expect(types[recs.indexOf(taskExt) - 1]).toBe(118);
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
