// The emulator and the restore plan with an image's unmapped ids (record 8004): groups set before
// the unshare that hides them, the prediction carrying the kernel ids, getgroups' view of them, and
// the refusals where they cannot be rebuilt.
import { ImageBuilder, decode, encode } from '../../lib/format';
import { Emulator, playRestorePlan, restorePlan } from '../../lib/emulator';
import { groupsAsRead, unmappedIds, unmappedKey, fullCapSet, type UnmappedIds } from '../../lib/model';
import { RestartUnsupported, planRestart } from '../../lib/restart';

const FULL = fullCapSet(40);
const one = [{ inside: 0, outside: 0, count: 1 }];

function image(unmapped: UnmappedIds | undefined, extra: { fsuid?: number } = {}) {
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 0, caps: { bounding: FULL } }));
  const ns = b.namespace(b.user(0), { uidMap: one, gidMap: one, setgroups: 'deny' });
  b.task(b.cred({ uid: 0, ...extra, groups: [65534], user: b.user(0, ns), caps: { permitted: FULL, effective: FULL, bounding: FULL }, unmapped }));
  return decode(encode(b.build()));
}

const root = () => ({ cred: new Emulator('modern').initTask().cred, noNewPrivs: false });

test('setpriv --groups=10,20 unshare -U -r: setgroups([10,20]) before the unshare, and nothing after', () => {
  const t = image({ groups: [unmappedKey(10), unmappedKey(20)] }).tasks[1];
  const ops = restorePlan(t, root(), 'modern');
  expect(ops[0]).toEqual({ op: 'setgroups', gids: [10, 20] });
  expect(ops.findIndex((o) => o.op === 'unshare_user')).toBe(1);
  expect(ops.filter((o) => o.op === 'setgroups')).toHaveLength(1);
  const played = playRestorePlan(t, root(), 'modern');
  expect(played.refused).toBe(-1);
  expect(unmappedIds(played.cred)?.groups).toEqual([unmappedKey(10), unmappedKey(20)]);
  // getgroups(2) inside: one 65534 per unmapped group.
  expect(groupsAsRead(played.cred)).toEqual([65534, 65534]);
});

test("the emulator's own restart (the seed's judgement) restores them", () => {
  const emu = new Emulator('modern');
  const out = emu.restart(image({ groups: [unmappedKey(10), unmappedKey(20)] }), emu.initTask());
  expect(out.steps.filter((s) => !s.allowed)).toEqual([]);
  expect(unmappedIds(out.restored[1].cred)?.groups).toEqual([unmappedKey(10), unmappedKey(20)]);
});

test('unmapped real and saved uids are set in the level that maps them, before the unshare', () => {
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 0, caps: { bounding: FULL } }));
  // The namespace maps only its creator (euid 0); the real and saved uids are 1000 outside.
  const ns = b.namespace(b.user(0), { uidMap: one, gidMap: one, setgroups: 'deny' });
  b.task(b.cred({ uid: 65534, euid: 0, suid: 65534, fsuid: 0, user: b.user(65534, ns), caps: { permitted: FULL, effective: FULL, bounding: FULL }, unmapped: { uid: 1000, suid: 1000 } }));
  const t = decode(encode(b.build())).tasks[1];
  const played = playRestorePlan(t, root(), 'modern');
  expect(played.ops.slice(0, 2).map((o) => o.op)).toEqual(['setresuid', 'unshare_user']);
  expect(played.ops[0]).toMatchObject({ ruid: 1000, euid: 0, suid: 1000 });
  expect(played.refused).toBe(-1);
  expect(unmappedIds(played.cred)).toMatchObject({ uid: 1000, suid: 1000 });
});

test('an image that shows 65534 for want of a mapping but does not record the ids behind it: RestartUnsupported', () => {
  expect(() => planRestart(encode(image(undefined)), '/bin/true', [], { task: 1 })).toThrow(RestartUnsupported);
  expect(() => planRestart(encode(image(undefined)), '/bin/true', [], { task: 1 })).toThrow(/task 1: groups: 65534 for want of a mapping .*\(no UNMAPPED_EXT record\)/);
});
