// Both directions and back. CRIU -> image -> CRIU: our reader reads back exactly what CRIU
// wrote, and the files are byte-identical where CRIU's encoding is canonical (pstree, the creds
// entry, userns, and ids where CRIU's numbering is the one we synthesize). Image -> CRIU -> image:
// images built with the ImageBuilder, user-namespace chains included, with the losses exact.
import * as fs from 'fs';
import * as path from 'path';
import { Reader } from 'protobufjs';
import { criu } from '../../lib';
import { ImageBuilder, decode, encode, type Image } from '../../lib/format';
import { CAP, SECBIT, capBit, fullCapSet, type Cred, type TaskCreds, type UserNamespace } from '../../lib/model';
import { DUMPS, copyDumpInUserns, dumpPid, fixture, rawCreds, tmpPath } from './helpers';

/** CRIU dir -> image -> linux-cr bytes -> image -> CRIU dir. */
async function throughImage(dir: string) {
  const there = await criu.criuDirToImage(dir);
  const image = decode(encode(there.image));
  const out = tmpPath('back');
  const { files, lossy } = await criu.imageToCriu(image, out);
  return { there, out, files, lossy };
}

describe.each(DUMPS)('CRIU 4.2 dump %s -> image -> CRIU', (name) => {
  test('our reader reads back exactly what CRIU wrote', async () => {
    const original = await criu.readCriuDir(fixture(name));
    const { out, lossy, there } = await throughImage(fixture(name));
    expect([there.lossy, there.assumed, lossy]).toEqual([[], [], []]);
    const back = await criu.readCriuDir(out);
    expect(back.pstree).toEqual(original.pstree);
    expect(back.tasks).toEqual(original.tasks); // creds, pids, mtype, ids
    expect(back.userns).toEqual(original.userns);
    // CRIU's inventory has more (root_cg_set, network_lock_method, plugins, the run id): ours
    // holds what a reader of creds needs, CRIU's own namespace ids included.
    expect(back.inventory.root_ids).toEqual(original.inventory.root_ids);
    expect(back.inventory.img_version).toBe(original.inventory.img_version);
  });

  test('byte-identical: pstree.img, ids-PID.img and the creds entry inside core-PID.img', async () => {
    const pid = dumpPid(name);
    const { out, files } = await throughImage(fixture(name));
    expect(files.map((f) => path.basename(f)).sort()).toEqual(['core', 'ids', 'inventory', 'pstree'].map((k) => (k === 'core' || k === 'ids' ? `${k}-${pid}.img` : `${k}.img`)).sort());
    for (const f of ['pstree.img', `ids-${pid}.img`])
      expect(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(fixture(name), f)))).toBe(true);
    expect(Buffer.from(rawCreds(path.join(out, `core-${pid}.img`)))).toEqual(Buffer.from(rawCreds(path.join(fixture(name), `core-${pid}.img`))));
    // The core image itself is not: CRIU's carries registers, signals, timers ... (~1.9 KiB).
    expect(fs.statSync(path.join(out, `core-${pid}.img`)).size).toBeLessThan(200);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

/** protobuf-c's encoding of a userns_entry, written out by hand: extents in order, unpacked. */
function criuUsernsBytes(uid: Array<[number, number, number]>, gid: Array<[number, number, number]>): Buffer {
  const varint = (v: number) => {
    const out: number[] = [];
    for (; v > 0x7f; v = Math.floor(v / 128)) out.push((v & 0x7f) | 0x80);
    out.push(v);
    return out;
  };
  const extent = (field: number, [first, lower, count]: [number, number, number]) => {
    const body = [0x08, ...varint(first), 0x10, ...varint(lower), 0x18, ...varint(count)];
    return [(field << 3) | 2, body.length, ...body];
  };
  const payload = [...uid.flatMap((e) => extent(1, e)), ...gid.flatMap((e) => extent(2, e))];
  const head = Buffer.alloc(12);
  head.writeUInt32LE(criu.MAGIC.IMG_COMMON, 0);
  head.writeUInt32LE(criu.MAGIC.USERNS, 4);
  head.writeUInt32LE(payload.length, 8);
  return Buffer.concat([head, Buffer.from(payload)]);
}

test('a dump in a user namespace: the namespace is re-created below the root, and written back byte-identical', async () => {
  const dir = await copyDumpInUserns('groups-caps-secbits', 12);
  const userns = criuUsernsBytes([[0, 100000, 65536]], [[0, 100000, 1000], [1000, 1000, 1], [1001, 101001, 64535]]);
  fs.writeFileSync(path.join(dir, 'userns-12.img'), userns);

  const { image, lossy, assumed } = await criu.criuDirToImage(dir);
  expect(lossy).toEqual([]);
  expect(assumed).toEqual([
    {
      what: 'userns-creator',
      detail: "CRIU does not record who created user namespace 12; uid 0 of the restarter's namespace is taken as its creator, the user criu restore creates it as.",
    },
  ]);
  const ns = image.tasks[0].cred.user.ns;
  expect(ns.creator?.uid).toBe(0);
  expect(ns.creator?.ns.creator).toBeNull();
  expect(ns.uidMap).toEqual([{ inside: 0, outside: 100000, count: 65536 }]);
  expect(ns.gidMap).toEqual([
    { inside: 0, outside: 100000, count: 1000 },
    { inside: 1000, outside: 1000, count: 1 },
    { inside: 1001, outside: 101001, count: 64535 },
  ]);

  const out = tmpPath('userns');
  const back = await criu.imageToCriu(decode(encode(image)), out);
  expect(back.lossy).toEqual([]);
  // CRIU's namespace ids are not in an image: the namespace comes back as id 9, same content.
  expect(fs.readFileSync(path.join(out, `userns-${criu.TASK_USER_NS_ID}.img`)).equals(userns)).toBe(true);
  const again = await criu.readCriuDir(out);
  expect(again.tasks[0].creds).toEqual((await criu.readCriuDir(dir)).tasks[0].creds);
  expect(again.tasks[0].ids?.user_ns_id).toBe(criu.TASK_USER_NS_ID);
});

// ---- image -> CRIU -> image --------------------------------------------------------------------

/** What a restart depends on, per task, with the namespace chain spelled out. */
function shape(image: Image) {
  const nsShape = (ns: UserNamespace): unknown =>
    ns.creator === null
      ? 'root'
      : { creatorUid: ns.creator.uid, parent: nsShape(ns.creator.ns), uidMap: ns.uidMap, gidMap: ns.gidMap, setgroups: ns.setgroups };
  const credShape = (c: Cred) => ({ ...c, groups: c.groups.gids, user: { uid: c.user.uid, ns: nsShape(c.user.ns) } });
  return image.tasks.map((t: TaskCreds) => ({ pids: t.pids, cred: credShape(t.cred), sameEcred: t.ecred === t.cred, noNewPrivs: t.noNewPrivs }));
}

async function imageRoundTrip(image: Image) {
  const out = tmpPath('img');
  const { lossy } = await criu.imageToCriu(decode(encode(image)), out);
  const there = await criu.criuDirToImage(out);
  return { lossy, back: decode(encode(there.image)), assumed: there.assumed, out };
}

const FULL = fullCapSet(40);

test('a tree with threads, groups, every cap set, securebits, no_new_privs, a user namespace: nothing lost', async () => {
  const b = new ImageBuilder();
  const ns = b.namespace(b.user(0), {
    uidMap: [{ inside: 0, outside: 200000, count: 65536 }],
    gidMap: [{ inside: 0, outside: 200000, count: 65536 }],
  });
  const root = b.cred({ uid: 0, user: b.user(0, ns), caps: { permitted: FULL, effective: FULL, bounding: FULL }, groups: [0, 4, 27] });
  const worker = b.cred({
    uid: 1000, euid: 1001, suid: 1002, fsuid: 1003, gid: 100, egid: 101, sgid: 102, fsgid: 103,
    user: b.user(1000, ns),
    groups: [100, 2000],
    caps: { inheritable: capBit(CAP.NET_ADMIN), permitted: capBit(CAP.NET_ADMIN), ambient: capBit(CAP.NET_ADMIN), bounding: FULL & ~capBit(CAP.SYS_ADMIN) },
    securebits: SECBIT.KEEP_CAPS | SECBIT.NO_CAP_AMBIENT_RAISE | SECBIT.NO_CAP_AMBIENT_RAISE_LOCKED | SECBIT.EXEC_RESTRICT_FILE,
  });
  const pids = (vpid: number, vtgid: number, vppid: number, depth: number) => ({ pids: { vpid, vtgid, vppid, vpgid: 100, vsid: 100, depth } });
  // In CRIU's order (depth first): 100 (threads 100, 101) -> 200 -> 300, then 400 under 100.
  b.task(root, pids(100, 100, 0, 0));
  b.task(worker, { ...pids(101, 100, 0, 0), noNewPrivs: true });
  b.task(worker, pids(200, 200, 100, 1));
  b.task(worker, { ...pids(300, 300, 200, 2), noNewPrivs: true });
  b.task(root, pids(400, 400, 100, 1));
  const image = b.build();

  const { lossy, back, assumed, out } = await imageRoundTrip(image);
  expect(lossy).toEqual([]);
  expect(assumed.map((a) => a.what)).toEqual(['userns-creator']);
  expect(shape(back)).toEqual(shape(image));
  // Sharing survives: equal creds are one object again, as are the namespace and group lists.
  expect(back.tasks[2].cred).toBe(back.tasks[1].cred);
  expect(back.tasks[4].cred).toBe(back.tasks[0].cred);
  expect(back.tasks[4].cred.user.ns).toBe(back.tasks[1].cred.user.ns);
  expect(back.header.arch).toBe(image.header.arch);

  const dump = await criu.readCriuDir(out);
  expect(dump.pstree).toEqual([
    { pid: 100, ppid: 0, pgid: 100, sid: 100, threads: [100, 101] },
    { pid: 200, ppid: 100, pgid: 100, sid: 100, threads: [200] },
    { pid: 300, ppid: 200, pgid: 100, sid: 100, threads: [300] },
    { pid: 400, ppid: 100, pgid: 100, sid: 100, threads: [400] },
  ]);
  expect(dump.tasks.map((t) => [t.pid, t.tid, t.ids?.vm_id, t.ids?.user_ns_id])).toEqual([
    [100, 100, 2, 9], [100, 101, 2, 9], [200, 200, 3, 9], [300, 300, 4, 9], [400, 400, 5, 9],
  ]);
  expect(dump.tasks[1].creds).toEqual({
    uid: 1000, gid: 100, euid: 1001, egid: 101, suid: 1002, sgid: 102, fsuid: 1003, fsgid: 103,
    cap_inh: [1 << 12, 0], cap_prm: [1 << 12, 0], cap_eff: [0, 0], cap_bnd: [0xffdfffff, 0x1ff],
    secbits: 0x1d0, groups: [100, 2000], no_new_privs: 1, cap_amb: [1 << 12, 0],
  });
});

test('a namespace two levels down: flattened into one, the maps composed through the level between', async () => {
  const b = new ImageBuilder();
  const a = b.namespace(b.user(1000), {
    uidMap: [{ inside: 0, outside: 100000, count: 65536 }],
    gidMap: [{ inside: 0, outside: 100000, count: 500 }, { inside: 500, outside: 300000, count: 65036 }],
    setgroups: 'allow',
  });
  const inner = b.namespace(b.user(0, a), {
    uidMap: [{ inside: 0, outside: 1000, count: 1000 }],
    gidMap: [{ inside: 0, outside: 0, count: 1000 }],
  });
  b.task(b.cred({ uid: 5, gid: 7, user: b.user(5, inner) }));
  const { lossy, back } = await imageRoundTrip(b.build());
  expect(lossy).toEqual([
    { what: 'userns-creator', detail: "the user namespace's creator (uid 1000) is not recorded by CRIU, which creates it as root." },
    {
      what: 'userns-nested',
      detail: "the tasks' user namespace is 2 levels below the root; CRIU holds one level, so the maps are composed through the levels between and those levels and their creators are not carried.",
    },
  ]);
  const ns = back.tasks[0].cred.user.ns;
  expect(ns.creator?.uid).toBe(0);
  expect(ns.creator?.ns.creator).toBeNull();
  expect(ns.uidMap).toEqual([{ inside: 0, outside: 101000, count: 1000 }]);
  // inner gids 0..499 -> a's 0..499 -> 100000..; 500..999 -> a's 500..999 -> 300000..
  expect(ns.gidMap).toEqual([{ inside: 0, outside: 100000, count: 500 }, { inside: 500, outside: 300000, count: 500 }]);
  expect(ns.setgroups).toBeUndefined();
  expect([back.tasks[0].cred.uid, back.tasks[0].cred.gid]).toEqual([5, 7]); // as the task sees them
});

test('everything CRIU cannot hold, at once: the lossy list, exactly', async () => {
  const b = new ImageBuilder({ header: { arch: 1 }, credLayout: 96 });
  const a = b.namespace(b.user(0), { uidMap: undefined, gidMap: [{ inside: 0, outside: 5000, count: 10 }], setgroups: 'deny' });
  const real = b.cred({ uid: 1, user: b.user(1, a), securebits: null, secRef: 0 });
  const override = b.cred({ uid: 1, euid: 0, user: b.user(1, a) });
  const oddUser = b.cred({ uid: 2, user: b.user(3, a) });
  b.task(real, { ecred: override, pids: { vpid: 10, vtgid: 10, vppid: 0 } });
  b.task(oddUser, { pids: { vpid: 20, vtgid: 20, vppid: 10 } });
  b.task(b.cred({ uid: 4 }), { pids: { vpid: 30, vtgid: 30, vppid: 1 } }); // root namespace, no parent in the image
  const image = b.build();
  const { dump, lossy } = criu.imageToCriuDump(image);
  expect(lossy).toEqual([
    { what: 'arch', detail: 'the linux-cr arch 1 has no CRIU counterpart (CRIU dumps 32-bit x86 tasks as X86_64 cores); the cores say UNKNOWN.' },
    { what: 'userns-setgroups', detail: "setgroups 'deny' has no place in a CRIU dump; criu restore leaves setgroups 'allow'." },
    { what: 'userns-maps', detail: "the uid_map of the tasks' user namespace was not recorded; the CRIU dump holds an empty uid_map." },
    { what: 'ecred', tid: 10, detail: 'the effective (subjective) cred differs from the real one; CRIU holds one cred per thread, and the real one is written.' },
    { what: 'securebits-unknown', tid: 10, detail: 'the securebits were not read at checkpoint; CRIU needs a value and 0 is written.' },
    { what: 'user', tid: 20, detail: "the user object's uid 3 differs from the real uid 2; CRIU has no user object." },
    { what: 'userns-multiple', tid: 30, detail: "the task is in another user namespace than the first task; CRIU dumps one user namespace, and the task's ids are written as they are." },
    { what: 'tree-roots', detail: 'processes 10, 30 have no parent in the image; a CRIU dump is one tree with one root, so all are written as roots.' },
  ]);
  expect(dump.userns).toEqual([{ id: 9, entry: { gid_map: [{ first: 0, lower_first: 5000, count: 10 }] } }]);
  expect(dump.tasks.map((t) => [t.tid, t.ppid, t.mtype, t.creds.euid, t.creds.secbits])).toEqual([
    [10, 0, criu.MARCH.UNKNOWN, 1, 0],
    [20, 10, criu.MARCH.UNKNOWN, 2, 0],
    [30, 0, criu.MARCH.UNKNOWN, 4, 0],
  ]);
});

test('more of what CRIU cannot hold: root maps, LSM labels, a leaderless thread group (refused)', () => {
  const b = new ImageBuilder({ credLayout: 96 });
  b.task(b.cred({ uid: 0, secRef: 7 }));
  const image = b.build();
  image.security = [{ objref: 7, type: 8, body: new Uint8Array(8) }];
  (image.tasks[0].cred.user.ns as { uidMap?: unknown }).uidMap = [{ inside: 0, outside: 0, count: 1 }];
  expect(criu.imageToCriuDump(image).lossy.map((l) => [l.what, l.tid])).toEqual([
    ['userns-root-maps', undefined],
    ['sec_ref', 1],
    ['sec_ref', undefined],
  ]);
  const t = new ImageBuilder();
  t.task(t.cred({ uid: 0 }), { pids: { vpid: 11, vtgid: 10 } });
  expect(() => criu.imageToCriuDump(t.build())).toThrow('threads 11 of process 10 are in the image but its leader is not');
});

test("setgroups 'allow' is not a loss (criu restore leaves it so) but is not recorded either", async () => {
  const b = new ImageBuilder();
  const ns = b.namespace(b.user(0), { uidMap: [{ inside: 0, outside: 1000, count: 1 }], gidMap: [{ inside: 0, outside: 1000, count: 1 }], setgroups: 'allow' });
  b.task(b.cred({ uid: 0, user: b.user(0, ns) }));
  const { lossy, back } = await imageRoundTrip(b.build());
  expect(lossy).toEqual([]);
  expect(back.tasks[0].cred.user.ns.setgroups).toBeUndefined();
});

describe('CRIU -> image losses', () => {
  test('LSM labels, AppArmor data, capabilities above 63, unsorted groups, an architecture without a linux-cr id', () => {
    const creds: criu.CredsEntry = {
      uid: 0, gid: 0, euid: 0, egid: 0, suid: 0, sgid: 0, fsuid: 0, fsgid: 0,
      cap_inh: [0, 0, 1], cap_prm: [1, 0], cap_eff: [0, 0], cap_bnd: [0, 0], secbits: 0,
      groups: [27, 4, 4], lsm_profile: 'unconfined', lsm_sockcreate: 'sys_u:sock', apparmor_data: new Uint8Array(3),
    };
    const dump: criu.CriuDump = {
      inventory: { img_version: 2 },
      pstree: [{ pid: 5, ppid: 0, pgid: 5, sid: 5, threads: [5] }],
      tasks: [{ pid: 5, tid: 5, ppid: 0, pgid: 5, sid: 5, mtype: criu.MARCH.AARCH64, creds }],
      userns: [],
    };
    const { image, lossy } = criu.criuToImage(dump);
    expect(lossy.map((l) => [l.what, l.tid])).toEqual([
      ['arch', undefined],
      ['lsm_profile', 5],
      ['lsm_sockcreate', 5],
      ['apparmor_data', 5],
      ['groups-order', 5],
      ['caps-beyond-64', 5],
    ]);
    expect(lossy[0].detail).toBe('the architecture AARCH64 has no linux-cr arch id; the image says arch 0 (unknown).');
    expect(image.header.arch).toBe(0);
    expect(image.tasks[0].cred.groups.gids).toEqual([4, 27]);
    expect(image.tasks[0].cred.caps.inheritable).toBe(0n);
    expect(decode(encode(image)).tasks[0].cred.caps.permitted).toBe(1n);
  });
});

describe('protobuf details', () => {
  test('uint64 fields are exact bigints, not doubles or Long objects (crit prints them as integers)', async () => {
    const pid = dumpPid('nnp');
    const [core] = await criu.readCriuFile(path.join(fixture('nnp'), `core-${pid}.img`), 'core');
    expect(typeof core.thread_core!.futex_rla).toBe('bigint');
    // The same value a raw varint read gives.
    const raw = Reader.create(Buffer.from(fieldBytes5(path.join(fixture('nnp'), `core-${pid}.img`))));
    raw.uint32();
    expect(core.thread_core!.futex_rla).toBe(BigInt(raw.uint64().toString()));
    const big = (1n << 63n) + 5n;
    const bytes = criu.encodeMessage('InventoryEntry', { img_version: 2, dump_uptime: big });
    expect(criu.decodeMessage('InventoryEntry', bytes).dump_uptime).toBe(big);
  });

  test('composeMaps: ranges split where the outer map splits them; gaps reported', () => {
    expect(
      criu.composeMaps(
        [{ inside: 0, outside: 10, count: 20 }],
        [{ inside: 0, outside: 1000, count: 15 }, { inside: 15, outside: 5000, count: 100 }],
      ),
    ).toEqual({ map: [{ inside: 0, outside: 1010, count: 5 }, { inside: 5, outside: 5000, count: 15 }], complete: true });
    expect(criu.composeMaps([{ inside: 0, outside: 10, count: 20 }], [{ inside: 20, outside: 0, count: 5 }])).toEqual({
      map: [{ inside: 10, outside: 0, count: 5 }],
      complete: false,
    });
  });

  test('capability words: two at least, more only when needed', () => {
    expect(criu.capSetToWords(0n)).toEqual([0, 0]);
    expect(criu.capSetToWords((1n << 40n) | 1n)).toEqual([1, 256]);
    expect(criu.capSetToWords(1n << 64n)).toEqual([0, 0, 1]);
    expect(criu.capWordsToSet([0xffffffff, 0x1ff])).toBe((1n << 41n) - 1n);
    expect(criu.capWordsToSet(undefined)).toBe(0n);
  });
});

/** thread_core (field 5) of the core entry in a core image: its raw bytes. */
function fieldBytes5(coreFile: string): Uint8Array {
  const buf = fs.readFileSync(coreFile);
  const r = Reader.create(buf.subarray(12, 12 + buf.readUInt32LE(8)));
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 5) return r.bytes();
    r.skipType(tag & 7);
  }
  throw new Error('no thread_core');
}
