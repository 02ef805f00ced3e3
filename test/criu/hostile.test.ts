// Damaged and hostile CRIU images: every one is a typed CriuImageError naming the file, the byte
// offset and the rule; a hostile size prefix never makes the reader allocate past the file.
import * as fs from 'fs';
import * as path from 'path';
import { criu } from '../../lib';
import { copyDump, copyDumpInUserns, dumpPid } from './helpers';

const { CriuImageError, KINDS, MAGIC, MAX_ENTRY_BYTES } = criu;

/** Reads the dump and returns the CriuImageError it must fail with. */
async function failure(dir: string): Promise<InstanceType<typeof CriuImageError>> {
  try {
    await criu.readCriuDir(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(CriuImageError);
    const err = e as InstanceType<typeof CriuImageError>;
    expect(err.code).toBe(criu.CRIU_RULES[err.rule]);
    expect(err.message.startsWith(`${err.file}: offset ${err.offset}: ${err.rule}: `)).toBe(true);
    return err;
  }
  throw new Error('the dump was read');
}

function dumpWith(mutate: (dir: string, pid: number) => void): string {
  const dir = copyDump('groups-caps-secbits');
  mutate(dir, dumpPid('groups-caps-secbits'));
  return dir;
}

const core = (dir: string, pid: number) => path.join(dir, `core-${pid}.img`);
const patch = (file: string, at: number, bytes: number[]) => {
  const b = fs.readFileSync(file);
  b.set(bytes, at);
  fs.writeFileSync(file, b);
};
const u32le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

describe('framing', () => {
  test('bad magic: the inventory\'s own, a core\'s common magic, a core\'s image magic', async () => {
    let dir = dumpWith((d) => patch(path.join(d, 'inventory.img'), 0, [0, 0, 0, 0]));
    let e = await failure(dir);
    expect([e.rule, e.file, e.offset]).toEqual(['bad-magic', path.join(dir, 'inventory.img'), 0]);

    dir = dumpWith((d, pid) => patch(core(d, pid), 0, u32le(MAGIC.IMG_SERVICE)));
    e = await failure(dir);
    expect([e.rule, e.offset]).toEqual(['bad-magic', 0]);

    // A pstree image where the core should be: right common magic, wrong image magic.
    dir = dumpWith((d, pid) => patch(core(d, pid), 4, u32le(MAGIC.PSTREE)));
    e = await failure(dir);
    expect([e.rule, e.file, e.offset]).toEqual(['bad-magic', core(dir, dumpPid('groups-caps-secbits')), 4]);
    expect(e.message).toContain('expected 0x55053847');
  });

  test('truncated: the magic, the size prefix, the entry', async () => {
    let dir = dumpWith((d) => fs.writeFileSync(path.join(d, 'pstree.img'), Buffer.from([0x19, 0x43])));
    let e = await failure(dir);
    expect([e.rule, e.offset]).toEqual(['truncated', 0]);

    dir = dumpWith((d, pid) => fs.writeFileSync(core(d, pid), fs.readFileSync(core(d, pid)).subarray(0, 10)));
    e = await failure(dir);
    expect([e.rule, e.offset, e.entry]).toEqual(['truncated', 8, 0]);

    dir = dumpWith((d, pid) => fs.writeFileSync(core(d, pid), fs.readFileSync(core(d, pid)).subarray(0, 100)));
    e = await failure(dir);
    expect([e.rule, e.offset, e.entry]).toEqual(['truncated', 8, 0]);
    expect(e.message).toMatch(/entry of \d+ bytes, only 88 left/);
  });

  test('a size prefix one past the end, and a huge one: refused without allocating it', async () => {
    const alloc = jest.spyOn(Buffer, 'alloc');
    const allocUnsafe = jest.spyOn(Buffer, 'allocUnsafe');
    try {
      for (const size of [null, 0xffffffff, MAX_ENTRY_BYTES + 1, MAX_ENTRY_BYTES]) {
        let fileSize = 0;
        const dir = dumpWith((d, pid) => {
          const b = fs.readFileSync(core(d, pid));
          fileSize = b.length;
          b.writeUInt32LE(size ?? b.readUInt32LE(8) + 1, 8);
          fs.writeFileSync(core(d, pid), b);
        });
        alloc.mockClear();
        allocUnsafe.mockClear();
        const e = await failure(dir);
        expect([e.rule, e.offset, e.entry]).toEqual([size === null || size === MAX_ENTRY_BYTES ? 'truncated' : 'entry-size', 8, 0]);
        // Nothing bigger than the largest file of the dump plus one byte, whatever the prefix says.
        for (const [n] of [...alloc.mock.calls, ...allocUnsafe.mock.calls]) expect(n).toBeLessThanOrEqual(Math.max(fileSize, 4096) + 1);
      }
    } finally {
      alloc.mockRestore();
      allocUnsafe.mockRestore();
    }
  });

  test('a big-endian dump (s390x) reads the same, its byte order told by the magic', async () => {
    const le = await criu.readCriuDir(copyDump('nnp'));
    const dir = copyDump('nnp');
    for (const f of fs.readdirSync(dir)) {
      const file = path.join(dir, f);
      const b = fs.readFileSync(file);
      let off = f === 'inventory.img' ? 4 : 8;
      b.writeUInt32BE(b.readUInt32LE(0), 0);
      if (off === 8) b.writeUInt32BE(b.readUInt32LE(4), 4);
      while (off < b.length) {
        const n = b.readUInt32LE(off);
        b.writeUInt32BE(n, off);
        off += 4 + n;
      }
      fs.writeFileSync(file, b);
    }
    expect(await criu.readCriuDir(dir)).toEqual(le);
  });

  test('not a regular file', async () => {
    const dir = dumpWith((d, pid) => {
      fs.rmSync(core(d, pid));
      fs.mkdirSync(core(d, pid));
    });
    const e = await failure(dir);
    expect([e.rule, e.offset]).toEqual(['file-size', 0]);
    expect(e.message).toContain('not a regular file');
  });
});

describe('protobuf payloads', () => {
  const rewriteCore = (payload: Uint8Array) =>
    dumpWith((d, pid) => fs.writeFileSync(core(d, pid), criu.frameImage(KINDS.core, [payload])));

  test('garbage, a field cut short, a required field missing (outer and nested)', async () => {
    for (const [payload, why] of [
      [Buffer.alloc(32, 0xff), /invalid|range|wire/i],
      [Buffer.from([0x08, 0x01, 0x2a, 0x40, 0x08]), /index out of range/],
      [Buffer.from([]), /missing required 'mtype'/],
      // thread_core { futex_rla 0, futex_rla_len 0, creds {} }: creds without its uid.
      [Buffer.from([0x08, 0x01, 0x2a, 0x06, 0x08, 0x00, 0x10, 0x00, 0x52, 0x00]), /missing required 'uid'/],
    ] as const) {
      const e = await failure(rewriteCore(payload));
      expect([e.rule, e.offset, e.entry]).toEqual(['bad-entry', 8, 0]);
      expect(e.message).toMatch(why);
    }
  });

  test('deeply nested groups of an unknown field: an error, not a crash', async () => {
    // field 15 (unknown) as start-group, 200k deep.
    const e = await failure(rewriteCore(Buffer.concat([Buffer.from([0x08, 0x01]), Buffer.alloc(200000, 0x7b)])));
    expect(e.rule).toBe('bad-entry');
  });

  test('a core without creds and no legacy creds image', async () => {
    const e = await failure(rewriteCore(Buffer.from([0x08, 0x01])));
    expect(e.rule).toBe('inconsistent');
    expect(e.message).toContain('no thread_core.creds');
  });

  test('entries: none where one is needed, two where one is allowed', async () => {
    let dir = dumpWith((d) => fs.writeFileSync(path.join(d, 'pstree.img'), criu.frameImage(KINDS.pstree, [])));
    let e = await failure(dir);
    expect(e.rule).toBe('missing-entry');
    dir = dumpWith((d) => {
      const [inv] = criu.parseImage(fs.readFileSync(path.join(d, 'inventory.img')), 'x', KINDS.inventory).entries;
      fs.writeFileSync(path.join(d, 'inventory.img'), criu.frameImage(KINDS.inventory, [inv.bytes, inv.bytes]));
    });
    e = await failure(dir);
    expect([e.rule, e.entry]).toEqual(['extra-entry', 1]);
  });
});

describe('missing files', () => {
  test.each(['inventory.img', 'pstree.img', 'core'])('%s', async (name) => {
    const pid = dumpPid('plain-root');
    const dir = copyDump('plain-root');
    const file = path.join(dir, name === 'core' ? `core-${pid}.img` : name);
    fs.rmSync(file);
    const e = await failure(dir);
    expect([e.rule, e.file, e.offset]).toEqual(['missing-file', file, 0]);
  });

  test('ids-PID.img may be absent (CRIU before 1.3 kept ids in the core)', async () => {
    const dir = copyDump('plain-root');
    fs.rmSync(path.join(dir, `ids-${dumpPid('plain-root')}.img`));
    const dump = await criu.readCriuDir(dir);
    expect(dump.tasks[0].ids).toBeUndefined();
  });

  test("the tasks' user namespace is not CRIU's, and its userns image is absent", async () => {
    const dir = await copyDumpInUserns('plain-root', 12);
    const e = await failure(dir);
    expect([e.rule, e.file]).toEqual(['missing-file', path.join(dir, 'userns-12.img')]);
    // With it present, it is read.
    fs.writeFileSync(path.join(dir, 'userns-12.img'), criu.encodeImage('userns', [{ uid_map: [{ first: 0, lower_first: 1000, count: 1 }] }]));
    expect((await criu.readCriuDir(dir)).userns).toEqual([{ id: 12, entry: { uid_map: [{ first: 0, lower_first: 1000, count: 1 }] } }]);
  });
});

describe('entries that contradict each other or the kernel', () => {
  const withTree = (entries: criu.PstreeEntry[]) =>
    dumpWith((d) => fs.writeFileSync(path.join(d, 'pstree.img'), criu.encodeImage('pstree', entries)));
  const P = dumpPid('groups-caps-secbits');

  test.each([
    ['a pid listed twice', [{ pid: P, ppid: 0, pgid: P, sid: P, threads: [P] }, { pid: P, ppid: P, pgid: P, sid: P, threads: [P] }], /pid \d+ listed twice/, 1],
    ['a thread listed twice', [{ pid: P, ppid: 0, pgid: P, sid: P, threads: [P, 7] }, { pid: 7, ppid: P, pgid: P, sid: P, threads: [7] }], /thread 7 listed twice/, 1],
    ['a leader not among its threads', [{ pid: P, ppid: 0, pgid: P, sid: P, threads: [8] }], /not among its threads/, 0],
    ['a parent outside the tree', [{ pid: P, ppid: 0, pgid: P, sid: P, threads: [P] }, { pid: 9, ppid: 10, pgid: P, sid: P }], /parent 10 is not in the tree/, 1],
    ['a parent chain that loops', [{ pid: P, ppid: 0, pgid: P, sid: P }, { pid: 5, ppid: 6, pgid: P, sid: P }, { pid: 6, ppid: 5, pgid: P, sid: P }], /chain loops/, 1],
    ['pid 0', [{ pid: 0, ppid: 0, pgid: 1, sid: 1 }], /pid 0 is outside/, 0],
    ['a pid past PID_MAX_LIMIT', [{ pid: P, ppid: 0, pgid: P, sid: P, threads: [P, 0x7fffffff] }], /thread 2147483647 is outside/, 0],
  ])('%s', async (_what, entries, message, index) => {
    const e = await failure(withTree(entries));
    expect([e.rule, e.entry]).toEqual(['inconsistent', index]);
    expect(e.message).toMatch(message);
  });

  test('a pstree of 100000 processes in one chain that loops at its end is refused in linear time', async () => {
    const n = 100000;
    const entries = Array.from({ length: n }, (_, i) => ({ pid: i + 1, ppid: i, pgid: 1, sid: 1 }));
    entries[0].ppid = n; // the root's parent is the last: a loop through every process
    const dir = withTree(entries);
    // CPU time (this process's, user and system), which the load of a shared machine does not
    // stretch.
    const cpu0 = process.cpuUsage();
    const e = await failure(dir);
    expect(e.message).toMatch(/chain loops/);
    const cpu = process.cpuUsage(cpu0);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(10000); // quadratic: 10^10 steps, minutes
  });

  test('more groups than NGROUPS_MAX, more map extents than the kernel allows', async () => {
    let dir = dumpWith((d, pid) => {
      const [c] = criu.parseImage(fs.readFileSync(core(d, pid)), 'x', KINDS.core).entries;
      const entry = criu.decodeMessage('CoreEntry', c.bytes);
      entry.thread_core!.creds!.groups = Array.from({ length: 65537 }, (_, i) => i);
      fs.writeFileSync(core(d, pid), criu.encodeImage('core', [entry]));
    });
    let e = await failure(dir);
    expect(e.rule).toBe('inconsistent');
    expect(e.message).toContain('NGROUPS_MAX');

    dir = dumpWith((d, pid) => {
      const ids = path.join(d, `ids-${pid}.img`);
      const [entry] = criu.parseImage(fs.readFileSync(ids), 'x', KINDS.ids).entries;
      fs.writeFileSync(ids, criu.encodeImage('ids', [{ ...criu.decodeMessage('TaskKobjIdsEntry', entry.bytes), user_ns_id: 40 }]));
      const map = Array.from({ length: 341 }, (_, i) => ({ first: i, lower_first: 1000 + i, count: 1 }));
      fs.writeFileSync(path.join(d, 'userns-40.img'), criu.encodeImage('userns', [{ uid_map: map }]));
    });
    e = await failure(dir);
    expect([e.rule, e.file]).toEqual(['inconsistent', path.join(dir, 'userns-40.img')]);
    expect(e.message).toContain('341 extents');
  });
});

describe('writing', () => {
  test('a value out of its protobuf range is refused by name, never wrapped', () => {
    expect(() => criu.encodeMessage('PstreeEntry', { pid: -1, ppid: 0, pgid: 1, sid: 1 })).toThrow('PstreeEntry.pid: uint32 expected, got -1');
    expect(() => criu.encodeMessage('PstreeEntry', { pid: 2 ** 32, ppid: 0, pgid: 1, sid: 1 })).toThrow(/uint32 expected/);
    expect(() => criu.encodeMessage('PstreeEntry', { pid: 1, ppid: 0, pgid: 1 } as never)).toThrow('PstreeEntry.sid: required field missing');
    expect(() => criu.encodeMessage('PstreeEntry', { pid: 1, ppid: 0, pgid: 1, sid: 1, tids: [] } as never)).toThrow(/no such field/);
    expect(() => criu.encodeMessage('CoreEntry', { mtype: 99 })).toThrow(/not a value of enum/);
    expect(() => criu.encodeMessage('InventoryEntry', { img_version: 2, dump_uptime: 1n << 64n })).toThrow(/uint64 expected/);
    const dump = { inventory: { img_version: 2 }, pstree: [{ pid: 1, ppid: 0, pgid: 1, sid: 1.5 }], tasks: [], userns: [] };
    try {
      criu.encodeCriuDir(dump, '/out');
      throw new Error('encoded');
    } catch (e) {
      expect(e).toBeInstanceOf(CriuImageError);
      expect((e as InstanceType<typeof CriuImageError>).rule).toBe('unencodable');
      expect((e as Error).message).toBe('/out/pstree.img: offset 0: unencodable: PstreeEntry.sid: uint32 expected, got 1.5');
    }
  });
});
