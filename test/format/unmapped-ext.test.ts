// UNMAPPED_EXT (8004): ids a cred's namespace does not map, kept as the nearest ancestor that maps
// them sees them. Round trips (both byte orders, ids and groups, nested levels), what a series
// reader sees (the record skipped by len: the overflow ids alone), compat refusal, and one crafted
// image per rule the record must keep.
import { DIALECTS, DIALECT_NAMES, ImageBuilder, ImageEncodeError, ImageFormatError, decode, encode, type Image } from '../../lib/format';
import { unmappedIds, unmappedKey, type UnmappedIds } from '../../lib/model';
import { renderReport, toInspectJson } from '../../lib/inspect';
import { splice, walk } from './helpers';

const one = [{ inside: 0, outside: 0, count: 1 }];

/** Root task in ns0, and a task in ns1 (maps only 0) holding groups 10 and 20 of ns0. */
function rootless(byteOrder: 'little' | 'big' = 'little', unmapped: UnmappedIds = { groups: [unmappedKey(10), unmappedKey(20)] }): Image {
  const b = new ImageBuilder({ header: { byteOrder } });
  b.task(b.cred({ uid: 0 }));
  const ns1 = b.namespace(b.user(0), { uidMap: one, gidMap: one, setgroups: 'deny' });
  b.task(b.cred({ uid: 0, groups: [65534], user: b.user(0, ns1), unmapped }));
  return b.build();
}

describe('round trip', () => {
  for (const dialect of DIALECT_NAMES)
    for (const order of ['little', 'big'] as const) {
      test(`groups, ${dialect}, ${order}-endian`, () => {
        const back = decode(encode(rootless(order), { dialect }));
        expect(back.dialect).toBe(dialect);
        expect(unmappedIds(back.tasks[1].cred)).toEqual({ groups: [unmappedKey(10), unmappedKey(20)] });
        expect(unmappedIds(back.tasks[0].cred)).toBeUndefined();
        expect(encode(back)).toEqual(encode(rootless(order), { dialect }));
      });
    }

  test('ids and a group that really is 65534 beside unmapped ones', () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 0 }));
    // ns1 maps 65534 (to 65534) and 0, not 1000 or 30.
    const m = [{ inside: 0, outside: 0, count: 1 }, { inside: 65534, outside: 65534, count: 1 }];
    const ns1 = b.namespace(b.user(0), { uidMap: m, gidMap: m, setgroups: 'allow' });
    const u: UnmappedIds = { uid: 1000, suid: 1000, gid: 30, groups: [0, 65534, unmappedKey(30)] };
    b.task(b.cred({ uid: 65534, euid: 0, suid: 65534, fsuid: 0, gid: 65534, groups: [0, 65534], user: b.user(65534, ns1), unmapped: u }));
    const back = decode(encode(b.build()));
    expect(unmappedIds(back.tasks[1].cred)).toEqual(u);
  });

  test('nested: the nearest ancestor that maps an id names it', () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 0 }));
    const full = [{ inside: 0, outside: 100000, count: 65536 }];
    const ns1 = b.namespace(b.user(0), { uidMap: full, gidMap: full, setgroups: 'allow' });
    const ns2 = b.namespace(b.user(0, ns1), { uidMap: one, gidMap: one, setgroups: 'deny' });
    // Kernel gid 100010 is gid 10 in ns1 and has no mapping in ns2.
    b.task(b.cred({ uid: 0, groups: [65534], user: b.user(0, ns2), unmapped: { groups: [unmappedKey(100010)] } }));
    const image = b.build();
    const bytes = encode(image);
    const rec = walk(bytes).find((r) => r.type === 8004)!;
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    expect([dv.getUint32(rec.offset + 24, true), dv.getUint32(rec.offset + 32, true)]).toEqual([8, 10]); // a group, id 10 (of ns1)
    expect(unmappedIds(decode(bytes).tasks[1].cred)).toEqual({ groups: [unmappedKey(100010)] });
    expect(renderReport(decode(bytes))).toContain('unmapped:   group 65534 in ns2 = gid 10 in ns1');
  });
});

test('inspect shows both views, in text and JSON', () => {
  const back = decode(encode(rootless()));
  const text = renderReport(back);
  expect(text).toContain('groups:     65534 65534');
  expect(text).toContain('unmapped:   group 65534 in ns1 = gid 10 in ns0; group 65534 in ns1 = gid 20 in ns0');
  const j = toInspectJson(back);
  expect(j.tasks[1].cred.unmapped).toEqual([
    { field: 'groups', shown: 65534, ancestor: { ns: 0, id: 10 } },
    { field: 'groups', shown: 65534, ancestor: { ns: 0, id: 20 } },
  ]);
  expect(j.tasks[0].cred.unmapped).toEqual([]);
});

test('a series reader passes over it: the record skipped by len leaves the overflow ids alone', () => {
  const bytes = encode(rootless());
  const rec = walk(bytes).find((r) => r.type === 8004)!;
  // As a v21 reader sees it: a type it does not know (renumbered to one no version used).
  const foreign = bytes.slice();
  new DataView(foreign.buffer).setUint32(rec.offset, 8099, true);
  const seen = decode(foreign);
  expect(seen.tasks[1].cred.groups.gids).toEqual([65534]);
  expect(unmappedIds(seen.tasks[1].cred)).toBeUndefined();
  // And without the record at all, byte for byte the image a series writer would make.
  const without = splice(bytes, rec.offset, rec.len);
  expect(decode(without).tasks[1].cred.groups.gids).toEqual([65534]);
});

test("compat: 'linux-cr' refuses it", () => {
  // A namespace with no maps (nothing for USERNS_EXT): only the unmapped ids need an extension.
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 0 }));
  const ns1 = b.namespace(b.user(0));
  b.task(b.cred({ uid: 65534, gid: 65534, groups: [65534], user: b.user(65534, ns1), unmapped: { uid: 0, euid: 0, suid: 0, fsuid: 0, gid: 0, egid: 0, sgid: 0, fsgid: 0, groups: [unmappedKey(10)] } }));
  const image = b.build();
  expect(unmappedIds(decode(encode(image)).tasks[1].cred)?.uid).toBe(0);
  expect(() => encode(image, { compat: 'linux-cr' })).toThrow(ImageEncodeError);
  expect(() => encode(image, { compat: 'linux-cr' })).toThrow(/ids with no mapping in the user namespace cannot be expressed/);
});

describe.each(DIALECT_NAMES)('rules (%s)', (dialect) => {
  const d = DIALECTS[dialect];
  const bytes = encode(rootless(), { dialect });
  const rec = walk(bytes).find((r) => r.type === 8004)!;
  const poke = (at: number, v: number) => {
    const out = bytes.slice();
    new DataView(out.buffer).setUint32(rec.offset + at, v >>> 0, true);
    return out;
  };
  const expectExtension = (b: Uint8Array, text: RegExp) => {
    let err: unknown;
    try {
      decode(b);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImageFormatError);
    expect((err as ImageFormatError).rule).toBe('extension');
    expect((err as ImageFormatError).record).toBe('UNMAPPED_EXT');
    expect((err as ImageFormatError).message).toMatch(text);
  };
  test('misplaced: not after its CRED', () => {
    const tc = walk(bytes).find((r) => r.type === d.record.TASK_CREDS && r.offset > rec.offset)!;
    const moved = splice(splice(bytes, tc.offset + tc.len, 0, bytes.subarray(rec.offset, rec.offset + rec.len)), rec.offset, rec.len);
    expectExtension(moved, /must follow the CRED/);
  });
  test('cred_ref not the CRED before it', () => expectExtension(poke(8, 1), /is not the CRED before it/));
  test('unknown flags', () => expectExtension(poke(12, 2), /unknown flags/));
  test('a field code past the table', () => expectExtension(poke(24, 9), /field 9/));
  test('an id field the CRED does not show as 65534', () => expectExtension(poke(24, 0), /uid is 0, not the overflow id/));
  test('userns_ref not an ancestor of the cred\'s namespace', () => {
    // The second USER_NS object is ns1, the cred's own namespace: not an ancestor.
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const nsRefs = walk(bytes).filter((r) => r.type === 6 && dv.getUint32(r.offset + 8, true) === d.obj.USER_NS).map((r) => dv.getInt32(r.offset + 12, true));
    expectExtension(poke(28, nsRefs[1]), /names no ancestor/);
  });
  test('an id the cred\'s namespace maps after all', () => expectExtension(poke(32, 0), /not unmapped right below/));
  test('len that does not fit the count', () => expectExtension(poke(16, 3), /entries need/));
  test('the invalid id (uid_t)-1', () => expectExtension(poke(32, 0xffffffff), /gid 4294967295 is the invalid id/));
});

test('the invalid id is never written, and never a key', () => {
  expect(() => encode(rootless('little', { groups: [unmappedKey(10), unmappedKey(0xffffffff)] }))).toThrow(/kernel gid 4294967295\) is no id a kernel can hold/);
  // A -1 ("no mapping") would otherwise become the key of gid 0.
  expect(() => unmappedKey(-1)).toThrow(RangeError);
});
