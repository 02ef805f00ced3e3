// One crafted image per validation rule: decode, validate and the stream reader all report the
// rule with its code, the offset and the record.
import { Readable } from 'stream';
import {
  FORMAT_RULES,
  ImageFormatError,
  MAX_GROUPINFO_LEN,
  decode,
  encode,
  readImage,
  validate,
  type FormatRule,
} from '../../lib/format';
import { BOTH_DIALECTS, NUM, PREFIX_LEN, concat, endlessAfter, extendedImage, goldenImage, record, splice, walk } from './helpers';

// Offsets of the golden image (little-endian, 88-byte CRED) after the uts buffers and the
// prefix; the same in both dialects; golden.test.ts pins them.
const P = 291 + PREFIX_LEN;
const AT = {
  TREE: P, PIDS: P + 16, OBJREF_GI: P + 48, GROUPINFO: P + 64, OBJREF_NS: P + 88, USER_NS_ROOT: P + 104,
  USER_ROOT: P + 136, USER_NS1: P + 168, USER7: P + 200, CRED: P + 232, TASK_CREDS: P + 320, TAIL: P + 336, END: P + 352,
};

function poke(bytes: Uint8Array, at: number, v: number, kind: 'u32' | 's32' = 'u32'): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  if (kind === 'u32') dv.setUint32(at, v >>> 0, true);
  else dv.setInt32(at, v, true);
  return out;
}

async function expectRule(bytes: Uint8Array, rule: FormatRule, offset: number, rec: string): Promise<void> {
  let err: unknown;
  try {
    decode(bytes);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ImageFormatError);
  const e = err as ImageFormatError;
  expect({ code: e.code, rule: e.rule, offset: e.offset, record: e.record }).toEqual({ code: FORMAT_RULES[rule], rule, offset, record: rec });
  expect(e.message).toMatch(new RegExp(`^offset ${offset}: ${rec}: ${rule}: .+`));
  expect(validate(bytes).map((x) => x.message)).toEqual([e.message]);
  await expect(readImage(Readable.from([Buffer.from(bytes)]))).rejects.toMatchObject({ code: e.code, offset, record: rec, message: e.message });
}

describe.each(BOTH_DIALECTS)('%s', (dialect) => {
  const N = NUM[dialect];
  const golden = () => encode(goldenImage('little', 88, dialect));

  test('the golden image is valid (the crafted ones below differ from it in one place)', async () => {
    expect(validate(golden())).toEqual([]);
    expect(walk(golden()).map((r) => r.offset)).toContain(AT.TAIL);
  });

  test('head-magic', () => expectRule(poke(golden(), 8, 0x12345678), 'head-magic', 0, 'HEADER'));
  test('truncated: shorter than a header', () => expectRule(golden().subarray(0, 10), 'truncated', 0, 'HEADER'));
  test('truncated: inside a record header', () => expectRule(golden().subarray(0, AT.TASK_CREDS + 5), 'truncated', AT.TASK_CREDS, 'RECORD'));
  test('every cut of the image, decoded right after the whole one, breaks the rule the stream reader names', async () => {
    // decode() reads a small image through a buffer it keeps (image-view.ts), where the bytes of
    // the whole image still stand past the cut: none of them may be read.
    const whole = golden();
    for (let cut = 0; cut < whole.length; cut++) {
      decode(whole);
      const part = whole.slice(0, cut);
      let err: unknown;
      try {
        decode(part);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ImageFormatError);
      await expect(readImage(Readable.from([Buffer.from(part)]))).rejects.toMatchObject({ message: (err as Error).message });
    }
  });
  test('an image that is not bytes is a TypeError, whatever its size', () => {
    const g = golden();
    const wide = new Uint16Array(g.length);
    wide.set(g);
    for (const notBytes of ['x'.repeat(100), Array.from(g), { length: 64 }, { length: 5 }, 'x'.repeat(5000), wide, new DataView(g.buffer)])
      expect(() => decode(notBytes as unknown as Uint8Array)).toThrow(TypeError);
  });
  test('record-len: below the 8-byte header', () => expectRule(poke(golden(), AT.OBJREF_GI + 4, 4), 'record-len', AT.OBJREF_GI, 'OBJREF'));
  test('record-len: wrong for a fixed-size record', () => {
    // 32: neither a TREE (16) nor, for record 101, a v23 PIDS (24).
    const b = splice(poke(golden(), AT.TREE + 4, 32), AT.TREE + 16, 0, new Uint8Array(16));
    return expectRule(b, 'record-len', AT.TREE, 'TREE');
  });
  test('record-len: a CRED of neither layout', () => {
    const b = splice(poke(golden(), AT.CRED + 4, 92), AT.CRED + 88, 0, new Uint8Array(4));
    return expectRule(b, 'record-len', AT.CRED, 'CRED');
  });
  test('len-beyond-image', () => expectRule(poke(golden(), AT.TAIL + 4, 100), 'len-beyond-image', AT.TAIL, 'TAIL'));
  test('record-too-large', () => expectRule(poke(golden(), AT.GROUPINFO + 4, MAX_GROUPINFO_LEN + 4), 'record-too-large', AT.GROUPINFO, 'GROUPINFO'));
  test('record-order: the first record is not a HEADER', () => expectRule(poke(golden(), 0, 4), 'record-order', 0, 'BUFFER'));
  test('record-order: an object record without its OBJREF', () =>
    expectRule(splice(golden(), AT.OBJREF_GI, 16), 'record-order', AT.OBJREF_GI, 'GROUPINFO'));
  test('groupinfo-len: ngroups disagrees with len', () => expectRule(poke(golden(), AT.GROUPINFO + 8, 3), 'groupinfo-len', AT.GROUPINFO, 'GROUPINFO'));
  test('groupinfo-len: a hostile ngroups never allocates past the record', () =>
    expectRule(poke(golden(), AT.GROUPINFO + 8, 65536), 'groupinfo-len', AT.GROUPINFO, 'GROUPINFO'));
  test('ngroups-max', () => expectRule(poke(golden(), AT.GROUPINFO + 8, 65537), 'ngroups-max', AT.GROUPINFO, 'GROUPINFO'));
  test('groups-order: equal gids', () => expectRule(poke(golden(), AT.GROUPINFO + 16, 10), 'groups-order', AT.GROUPINFO, 'GROUPINFO'));
  test('groups-order: descending gids', () => expectRule(poke(golden(), AT.GROUPINFO + 12, 30), 'groups-order', AT.GROUPINFO, 'GROUPINFO'));
  test('objref-positive', () => expectRule(poke(golden(), AT.OBJREF_GI + 12, 0, 's32'), 'objref-positive', AT.OBJREF_GI, 'OBJREF'));
  test('objref-unique', () => expectRule(poke(golden(), AT.OBJREF_NS + 12, 1, 's32'), 'objref-unique', AT.OBJREF_NS, 'OBJREF'));
  test('objtype: outside the table', () => expectRule(poke(golden(), AT.OBJREF_GI + 8, N.O_MAX + 1), 'objtype', AT.OBJREF_GI, 'OBJREF'));
  test('objtype: the OBJREF announces another type than the record after it', () =>
    expectRule(poke(golden(), AT.OBJREF_GI + 8, N.O_USER), 'objtype', AT.GROUPINFO, 'GROUPINFO'));
  test('ref-missing', () => expectRule(poke(golden(), AT.CRED + 44, 77, 's32'), 'ref-missing', AT.CRED, 'CRED'));
  test('ref-type', () => expectRule(poke(golden(), AT.CRED + 40, 1, 's32'), 'ref-type', AT.CRED, 'CRED'));
  test('ref-type: a USER whose userns_ref names a USER', () => expectRule(poke(golden(), AT.USER7 + 12, 3, 's32'), 'ref-type', AT.USER7, 'USER'));
  test('userns-creator: not a USER', () => expectRule(poke(golden(), AT.USER_NS1 + 8, 1, 's32'), 'userns-creator', AT.USER_NS1, 'USER_NS'));
  test('userns-creator: not earlier', () => expectRule(poke(golden(), AT.USER_NS1 + 8, 5, 's32'), 'userns-creator', AT.USER_NS1, 'USER_NS'));
  test('userns-creator: negative', () => expectRule(poke(golden(), AT.USER_NS1 + 8, -1, 's32'), 'userns-creator', AT.USER_NS1, 'USER_NS'));
  test('task-cred: cred_ref 0', () => expectRule(poke(golden(), AT.TASK_CREDS + 8, 0, 's32'), 'task-cred', AT.TASK_CREDS, 'TASK_CREDS'));
  test('task-cred: ecred_ref -1', () => expectRule(poke(golden(), AT.TASK_CREDS + 12, -1, 's32'), 'task-cred', AT.TASK_CREDS, 'TASK_CREDS'));
  test('pids-buffer: the pid BUFFER does not hold TREE-count entries', () => expectRule(poke(golden(), AT.TREE + 8, 2), 'pids-buffer', AT.PIDS, 'BUFFER'));
  test('tree-count: fewer TASK_CREDS than TREE counts', () => expectRule(splice(golden(), AT.TASK_CREDS, 16), 'tree-count', AT.TASK_CREDS, 'TAIL'));
  test('tree-count: more TASK_CREDS than TREE counts', () => {
    const g = golden();
    return expectRule(splice(g, AT.TAIL, 0, g.slice(AT.TASK_CREDS, AT.TAIL)), 'tree-count', AT.TAIL, 'TASK_CREDS');
  });
  test('tail-missing', () => expectRule(golden().subarray(0, AT.TAIL), 'tail-missing', AT.TAIL, 'TAIL'));
  test('tail-magic', () => expectRule(poke(golden(), AT.TAIL + 8, 1), 'tail-magic', AT.TAIL, 'TAIL'));
  test('after-tail', () => expectRule(concat(golden(), new Uint8Array(3)), 'after-tail', AT.END, 'TAIL'));

  describe('extension', () => {
    const taskExt = record(true, 8003, [['u32', 1], ['pad', 4]]);
    test('misplaced: TASK_EXT after a GROUPINFO', () => expectRule(splice(golden(), AT.OBJREF_NS, 0, taskExt), 'extension', AT.OBJREF_NS, 'TASK_EXT'));
    test('unknown flag bits', () => {
      const b = splice(golden(), AT.TAIL, 0, record(true, 8003, [['u32', 3], ['pad', 4]]));
      return expectRule(b, 'extension', AT.TAIL, 'TASK_EXT');
    });
    test('CRED_EXT naming another cred', () => {
      const b = splice(golden(), AT.TASK_CREDS, 0, record(true, 8001, [['s32', 5], ['u32', 0], ['u32', 1], ['u32', 0], ['u32', 0x15], ['pad', 4]]));
      return expectRule(b, 'extension', AT.TASK_CREDS, 'CRED_EXT');
    });
    test('CRED_EXT securebits disagreeing with the CRED', () => {
      const b = splice(golden(), AT.TASK_CREDS, 0, record(true, 8001, [['s32', 6], ['u32', 0], ['u32', 1], ['u32', 0], ['u32', 0x14], ['pad', 4]]));
      return expectRule(b, 'extension', AT.TASK_CREDS, 'CRED_EXT');
    });
    test('USERNS_EXT with more than 340 extents', () => {
      const b = encode(extendedImage('little', dialect));
      const ext = walk(b).find((r) => r.type === 8002)!;
      return expectRule(poke(b, ext.offset + 24, 341), 'extension', ext.offset, 'USERNS_EXT');
    });
    test('USERNS_EXT len disagreeing with its extents', () => {
      const b = encode(extendedImage('little', dialect));
      const ext = walk(b).find((r) => r.type === 8002)!;
      return expectRule(poke(b, ext.offset + 28, 1), 'extension', ext.offset, 'USERNS_EXT');
    });
  });

  test('record types a creds reader does not interpret are passed over by len', async () => {
    const g = golden();
    const odd = record(true, 4242, [['bytes', Uint8Array.from([1, 2, 3])]]);
    const buf = record(true, 4, [['bytes', Uint8Array.from([9, 9])]]);
    const task = record(true, N.TASK, [['u32', 1], ['pad', 4]]);
    const b = splice(splice(splice(g, AT.TASK_CREDS, 0, odd), AT.OBJREF_GI, 0, concat(buf, task)), AT.TREE, 0, odd);
    expect(decode(b)).toEqual(decode(g));
    expect(await readImage(Readable.from([Buffer.from(b)]))).toEqual(decode(g));
  });

  test('the stream reader refuses a huge len before buffering it', async () => {
    const g = golden();
    const head = poke(g, AT.OBJREF_GI + 4, 0xfffffff0).subarray(0, AT.OBJREF_GI + 8);
    const endless = endlessAfter(head);
    await expect(readImage(endless.stream)).rejects.toMatchObject({ rule: 'record-too-large', offset: AT.OBJREF_GI });
    expect(endless.pulled()).toBeLessThanOrEqual(1);
    endless.stream.destroy();
  });

  test('validate goes on after a broken rule inside a record and finds a missing tail too', () => {
    const b = poke(golden(), AT.GROUPINFO + 16, 10).subarray(0, AT.TAIL);
    expect(validate(b).map((e) => [e.rule, e.offset])).toEqual([
      ['groups-order', AT.GROUPINFO],
      ['tail-missing', AT.TAIL],
    ]);
    // ... and a damaged frame further on.
    const c = poke(poke(golden(), AT.CRED + 44, 77, 's32'), AT.TAIL + 4, 100);
    expect(validate(c).map((e) => [e.rule, e.offset])).toEqual([
      ['ref-missing', AT.CRED],
      ['len-beyond-image', AT.TAIL],
    ]);
  });

  describe('nested OBJREFs, as the kernel writes them', () => {
    // checkpoint_obj() writes the CRED's OBJREF first, then the objects the cred needs (each with
    // its own OBJREF), then the CRED record: the next object record closes the innermost OBJREF.
    const le = true;
    const objref = (t: number, r: number) => record(le, 6, [['u32', t], ['s32', r]]);
    const capsAndIds = (userRef: number, giRef: number) =>
      record(le, N.CRED, [
        ['u32', 1000], ['u32', 1000], ['u32', 1000], ['u32', 1000], ['u32', 100], ['u32', 100], ['u32', 100], ['u32', 100],
        ['s32', userRef], ['s32', giRef],
        ['u32', 0], ['u32', 0], ['u32', 0x400], ['u32', 0], ['u32', 0x400], ['u32', 0], ['u32', 0xffffffff], ['u32', 0x1ff], ['u32', 0], ['u32', 0],
      ]);
    const nested = (userRef = 3) =>
      concat(
        golden().subarray(0, AT.OBJREF_GI), // HEADER, uts, TREE (1 task), pids
        objref(N.O_CRED, 1),
        objref(N.O_GROUPINFO, 2), record(le, N.GROUPINFO, [['u32', 1], ['u32', 5], ['pad', 4]]),
        objref(N.O_USER, 3),
        objref(N.O_USER_NS, 4), record(le, N.USER_NS, [['s32', 0], ['pad', 4]]),
        record(le, N.USER, [['u32', 1000], ['s32', 4]]),
        capsAndIds(userRef, 2),
        record(le, N.TASK_CREDS, [['s32', 1], ['s32', 1]]),
        record(le, 9001, [['u64', 0x002d2a0cc0deef00n]]),
      );

    test('decode, the stream reader and re-encoding agree on a seed-ordered image', async () => {
      const img = decode(nested());
      const c = img.tasks[0].cred;
      expect(c.groups.gids).toEqual([5]);
      expect(c.user).toEqual({ uid: 1000, ns: { creator: null } });
      expect(c.caps.permitted).toBe(0x400n);
      expect(c.caps.bounding).toBe(0x1ff_ffffffffn);
      expect(img.tasks[0].ecred).toBe(c);
      expect(await readImage(Readable.from([Buffer.from(nested())]))).toEqual(img);
      expect(decode(encode(img))).toEqual(img); // written back in the flat form
    });

    test('an object cannot name an object still being restored', () =>
      expectRule(nested(1), 'ref-missing', AT.OBJREF_GI + 16 + 16 + 20 + 16 + 16 + 16 + 16, 'CRED'));
  });
});
