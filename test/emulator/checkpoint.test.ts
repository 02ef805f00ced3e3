// checkpoint(): the seed's object walk; images decode back to the same shapes and sharing.
import { decode } from '../../lib/format';
import { Emulator, EmulatorError } from '../../lib/emulator';
import { credShape, run, task } from './helpers';

/** Record types of an image in order (a walker of our own, not the codec's). */
function recordTypes(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let off = 0; off + 8 <= bytes.length; ) {
    const len = v.getUint32(off + 4, true);
    out.push(v.getUint32(off, true));
    off += len;
  }
  return out;
}
// The seed's (v21) numbers: the emulator's checkpoint writes the default dialect.
const USER_NS = 113;
const CRED = 114;
const USER = 115;
const GROUPINFO = 116;
const TASK_CREDS = 117;

describe('checkpoint', () => {
  test('creator chain: outermost first, the root task\'s namespace with creator 0', () => {
    const emu = new Emulator('modern');
    const t = task(emu, { uid: 1000, gid: 1000 });
    const m1 = [{ inside: 0, outside: 1000, count: 1 }];
    expect(emu.applyAll(t, [
      { op: 'unshare_user', setgroups: 'deny', uidMap: m1, gidMap: m1 },
      { op: 'unshare_user', setgroups: 'deny', uidMap: [{ inside: 7, outside: 0, count: 1 }], gidMap: [{ inside: 7, outside: 0, count: 1 }] },
    ]).ok).toBe(true);
    expect(t.cred.uid).toBe(7);
    const root = emu.initTask();
    const { image, bytes } = emu.checkpoint([root, t]);
    const ns2 = image.tasks[1].cred.user.ns;
    expect(ns2.creator?.uid).toBe(0);
    const ns1 = ns2.creator!.ns;
    expect(ns1.creator?.uid).toBe(1000);
    expect(ns1.creator!.ns).toBe(image.tasks[0].cred.user.ns);
    expect(image.tasks[0].cred.user.ns.creator).toBeNull();
    // Task 0: GROUPINFO, USER_NS (root, creator 0), USER, CRED, TASK_CREDS. Task 1: then the chain
    // outermost first: USER 1000 (creator of ns1), USER_NS ns1, USER 0 (creator of ns2), USER_NS
    // ns2, then its USER and CRED.
    const kinds = recordTypes(bytes).filter((x) => [USER_NS, CRED, USER, GROUPINFO, TASK_CREDS].includes(x));
    const firstTask = kinds.indexOf(TASK_CREDS);
    expect(kinds.slice(0, firstTask + 1).filter((x) => x !== GROUPINFO)).toEqual([USER_NS, USER, CRED, TASK_CREDS]);
    const tail = kinds.slice(firstTask + 1).filter((x) => x !== GROUPINFO);
    expect(tail).toEqual([USER, USER_NS, USER, USER_NS, USER, CRED, TASK_CREDS]);
    const back = decode(bytes);
    expect(credShape(back.tasks[1].cred)).toEqual(credShape(t.cred));
  });

  test('shared objects are written once and shared again after decode', () => {
    const emu = new Emulator('modern');
    const a = task(emu, { uid: 1000, groups: [1, 2] });
    const b = emu.forkTask(a);
    const { bytes } = emu.checkpoint([a, b]);
    expect(recordTypes(bytes).filter((x) => x === CRED)).toHaveLength(1);
    const back = decode(bytes);
    expect(back.tasks[0].cred).toBe(back.tasks[1].cred);
  });

  test('checkpoint.outside-root-ns: a task above the root task\'s namespace cannot be written', () => {
    const emu = new Emulator('modern');
    const inner = emu.initTask();
    run(emu, inner, { op: 'unshare_user', uidMap: [{ inside: 0, outside: 0, count: 1 }] });
    expect(() => emu.checkpoint([inner, emu.initTask()])).toThrow(EmulatorError);
  });

  test('seed images are strictly series-compatible (no extension records)', () => {
    const emu = new Emulator('seed');
    const { bytes } = emu.checkpoint([emu.initTask()]);
    expect(recordTypes(bytes).filter((x) => x >= 8000 && x < 8100)).toEqual([]);
  });

  test('steps serialize with their words (lazy steps included)', () => {
    const emu = new Emulator('modern');
    const t = emu.initTask();
    const r = run(emu, t, { op: 'setresuid', ruid: 5, euid: 5, suid: 5 });
    const json = JSON.parse(JSON.stringify(r.step));
    expect(json).toMatchObject({ op: 'setresuid(5,5,5)', rule: 'setresuid.allowed', allowed: true, task: t.id });
    expect(json.message).toMatch(/^setresuid\(5,5,5\): uids now 5\/5\/5, fsuid 5; capabilities now permitted \{none\}/);
  });
});
