// ImageBuilder: interning, defaults, and that its sharing is what the image writes once.
import { BuilderError, ImageBuilder, decode, defaultHeader, encode } from '../../lib/format';
import { walk } from './helpers';

/** The v21 numbers (the reference's table), which the builder's images are written in. */
const RecordType = { OBJREF: 6, USER_NS: 113, CRED: 114, USER: 115, GROUPINFO: 116, TASK_CREDS: 117 } as const;

describe('ImageBuilder', () => {
  test('users are interned by (uid, namespace)', () => {
    const b = new ImageBuilder();
    const ns = b.namespace(b.user(0));
    expect(b.user(5)).toBe(b.user(5));
    expect(b.user(5, b.rootNs)).toBe(b.user(5));
    expect(b.user(5, ns)).not.toBe(b.user(5));
    expect(b.user(5, ns).ns).toBe(ns);
  });

  test('group lists are sorted, de-duplicated and interned by value', () => {
    const b = new ImageBuilder();
    const g = b.groups([27, 4, 27, 1]);
    expect(g.gids).toEqual([1, 4, 27]);
    expect(b.groups(new Set([4, 1, 27]))).toBe(g);
    expect(b.groups([1, 4])).not.toBe(g);
  });

  test('namespaces: interned by inode when given, else new each call', () => {
    const b = new ImageBuilder();
    const root = b.user(0);
    expect(b.namespace(root)).not.toBe(b.namespace(root));
    const a = b.namespace(root, { inode: 42n, setgroups: 'deny' });
    expect(b.namespace(root, { inode: 42n })).toBe(a);
    expect(() => b.namespace(b.user(1), { inode: 42n })).toThrow(BuilderError);
  });

  test('cred defaults', () => {
    const b = new ImageBuilder();
    const c = b.cred({ uid: 1000 });
    expect(c).toEqual({
      uid: 1000, euid: 1000, suid: 1000, fsuid: 1000, gid: 0, egid: 0, sgid: 0, fsgid: 0,
      groups: { gids: [] }, user: b.user(1000),
      caps: { inheritable: 0n, permitted: 0n, effective: 0n, bounding: 0n, ambient: 0n },
      securebits: 0,
    });
    expect(c.user).toBe(b.user(1000));
    const d = b.cred({ uid: 1, euid: 2, gid: 7, egid: 8 });
    expect([d.suid, d.fsuid, d.sgid, d.fsgid]).toEqual([1, 1, 7, 7]);
  });

  test('creds are interned by value, object fields by identity', () => {
    const b = new ImageBuilder();
    const c = b.cred({ uid: 1, groups: [3, 2], caps: { permitted: 4n } });
    expect(b.cred({ uid: 1, groups: b.groups([2, 3]), caps: { permitted: 4n, ambient: 0n } })).toBe(c);
    expect(b.cred({ uid: 1, groups: [2, 3], caps: { permitted: 5n } })).not.toBe(c);
    expect(b.cred({ uid: 1, groups: [2, 3], caps: { permitted: 4n }, securebits: null })).not.toBe(c);
    // Same uid, a user of another namespace: another cred.
    expect(b.cred({ uid: 1, groups: [2, 3], caps: { permitted: 4n }, user: b.user(1, b.namespace(b.user(0))) })).not.toBe(c);
  });

  test('task pids default to a chain from vpid 1', () => {
    const b = new ImageBuilder();
    const c = b.cred({ uid: 0 });
    b.task(c);
    b.task(c, { pids: { vpgid: 9 } });
    const [t0, t1] = b.build().tasks;
    expect(t0.pids).toEqual({ vpid: 1, vppid: 0, vtgid: 1, vpgid: 1, vsid: 1, depth: 0 });
    expect(t1.pids).toEqual({ vpid: 2, vppid: 1, vtgid: 2, vpgid: 9, vsid: 1, depth: 0 });
    expect(t0.ecred).toBe(t0.cred);
    expect(t0.noNewPrivs).toBe(false);
  });

  test('shared objects are written once; equal but distinct objects twice', () => {
    const b = new ImageBuilder();
    const c = b.cred({ uid: 1000, groups: [1, 2] });
    for (let i = 0; i < 50; i++) b.task(c);
    const img = b.build();
    const count = (bytes: Uint8Array, type: number) => walk(bytes).filter((r) => r.type === type).length;
    const bytes = encode(img);
    expect([count(bytes, RecordType.CRED), count(bytes, RecordType.GROUPINFO), count(bytes, RecordType.USER), count(bytes, RecordType.TASK_CREDS)]).toEqual([1, 1, 1, 50]);
    // A hand-made copy of the cred with its own GroupInfo object: the image keeps them apart.
    img.tasks[1] = { ...img.tasks[1], cred: { ...c, groups: { gids: [1, 2] } } };
    img.tasks[1].ecred = img.tasks[1].cred;
    const bytes2 = encode(img);
    expect([count(bytes2, RecordType.CRED), count(bytes2, RecordType.GROUPINFO)]).toEqual([2, 2]);
    const back = decode(bytes2);
    expect(back.tasks[1].cred).not.toBe(back.tasks[0].cred);
    expect(back.tasks[2].cred).toBe(back.tasks[0].cred);
  });

  test('the seed order: GROUPINFO, then the namespace chain outermost first, then USER, then CRED', () => {
    const b = new ImageBuilder();
    const ns1 = b.namespace(b.user(10));
    const ns2 = b.namespace(b.user(20, ns1));
    b.task(b.cred({ uid: 30, user: b.user(30, ns2), groups: [1] }));
    const types = walk(encode(b.build())).map((r) => r.type).filter((t) => t !== RecordType.OBJREF);
    // HEADER, 3 uts, HEADER_ARCH, CONTAINER, LSM name, LSM_INFO, TREE, pids; at the end TASK_CREDS, TAIL.
    expect(types.slice(10, -2)).toEqual([
      RecordType.GROUPINFO,
      RecordType.USER_NS, RecordType.USER, // root namespace, creator uid 10
      RecordType.USER_NS, RecordType.USER, // ns1, creator uid 20
      RecordType.USER_NS, RecordType.USER, // ns2, the cred's user uid 30
      RecordType.CRED,
    ]);
  });

  test('defaultHeader', () => {
    const h = defaultHeader({ byteOrder: 'big' });
    expect(h).toMatchObject({ byteOrder: 'big', arch: 2, kernel: { major: 2, minor: 6, patch: 34, rev: 0 } });
    expect(h.constants).toHaveLength(12);
    expect(Number(h.time)).toBeGreaterThan(1.7e9);
  });
});
