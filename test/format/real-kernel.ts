// A generator of the records a real linux-cr kernel writes around the credential records: the
// task's own records, its namespaces, files, memory, signals and sockets, each object behind an
// OBJREF of its own (foreign) object type, as checkpoint_obj() writes them. Numbers come from
// the reference's tables (helpers.NUM), not from the codec.
import type { Dialect } from '../../lib/format';
import { NUM, concat, lay, record, walk, type Field } from './helpers';

/** A seeded PRNG (mulberry32), so a failing case can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Record numbers of the other blocks (the same in both dialects). */
const FILE_TABLE = 301, FILE_DESC = 302, FILE = 304, MM = 401, VMA = 402, PGARR = 403, SIGHAND = 501, SIGNAL = 503, SOCKET = 601, ARCH_CPU = 201;

/** Every kind of foreign group the generator can make. */
export const FOREIGN_KINDS = [
  'TASK', 'THREAD', 'CPU', 'RESTART_BLOCK', 'TASK_NS', 'NS', 'UTS_NS', 'IPC_NS', 'MNT_NS', 'TASK_OBJS',
  'FILE_TABLE', 'MM', 'SIGHAND', 'SIGNAL', 'SOCK', 'BUFFER', 'STRING', 'ARCH',
] as const;
export type ForeignKind = (typeof FOREIGN_KINDS)[number];

export class ForeignRecords {
  /** Objrefs for foreign objects: far above any the creds part uses. */
  private next = 100000;
  constructor(
    private readonly dialect: Dialect,
    private readonly le: boolean,
    private readonly rand: () => number,
  ) {}

  private get N() {
    return NUM[this.dialect];
  }

  private junk(min: number, max: number): Field {
    const n = min + Math.floor(this.rand() * (max - min + 1));
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.rand() * 256);
    return ['bytes', b];
  }

  private rec(type: number, minBody = 8, maxBody = 64): Uint8Array {
    return record(this.le, type, [this.junk(minBody, maxBody)]);
  }

  private objref(objtype: number): { bytes: Uint8Array; ref: number } {
    const ref = this.next++;
    return { bytes: record(this.le, 6, [['u32', objtype], ['s32', ref]]), ref };
  }

  private string(s: string): Uint8Array {
    return record(this.le, 5, [['bytes', Buffer.from(s + '\0', 'latin1')]]);
  }

  /** One group of records of the given kind. */
  group(kind: ForeignKind): Uint8Array {
    const N = this.N;
    const le = this.le;
    switch (kind) {
      case 'TASK':
        return concat(this.rec(N.TASK, 40, 80), this.string('comm'));
      case 'THREAD':
        return this.rec(N.THREAD);
      case 'CPU':
        return this.rec(N.CPU, 200, 600);
      case 'RESTART_BLOCK':
        return this.rec(N.RESTART_BLOCK, 16, 48);
      case 'TASK_NS': {
        // The task's nsproxy: an NS object (its record holds refs to the namespaces below).
        const ns = this.objref(N.O_NS);
        return concat(ns.bytes, this.group('UTS_NS'), this.group('IPC_NS'), this.group('MNT_NS'), this.rec(N.NS, 16, 16), record(le, N.TASK_NS, [['s32', ns.ref], ['pad', 4]]));
      }
      case 'NS':
        return concat(this.objref(N.O_NS).bytes, this.rec(N.NS, 16, 16));
      case 'UTS_NS': {
        // The uts namespace: its record, then its strings as BUFFERs.
        const name = new Uint8Array(65);
        name.set(Buffer.from('host', 'latin1'));
        return concat(this.objref(N.O_UTS_NS).bytes, this.rec(N.UTS_NS, 16, 16), record(le, 4, [['bytes', name]]), record(le, 4, [['bytes', name]]));
      }
      case 'IPC_NS':
        return concat(this.objref(N.O_IPC_NS).bytes, this.rec(N.IPC_NS, 32, 64));
      case 'MNT_NS':
        return concat(this.objref(N.O_MNT_NS).bytes, this.rec(N.MNT_NS, 8, 8), this.string('/'));
      case 'TASK_OBJS':
        return this.rec(N.TASK_OBJS, 24, 24);
      case 'FILE_TABLE': {
        // The file table, each descriptor naming a FILE object written on first use (nested,
        // its own path after it).
        const parts: Uint8Array[] = [this.objref(N.O_FILE_TABLE).bytes, this.rec(FILE_TABLE, 16, 16)];
        for (let i = 0, n = 1 + Math.floor(this.rand() * 3); i < n; i++) {
          const f = this.objref(N.O_FILE);
          parts.push(f.bytes, this.rec(FILE, 40, 56), this.string(`/dev/pts/${i}`), record(le, FILE_DESC, [['s32', i], ['s32', f.ref]]));
        }
        return concat(...parts);
      }
      case 'MM': {
        // OBJREF(MM), then the exe file object (nested, before the MM record), the MM record,
        // VMAs, and page arrays, one of them large.
        const parts: Uint8Array[] = [this.objref(N.O_MM).bytes, this.objref(N.O_FILE).bytes, this.rec(FILE, 40, 40), this.string('/bin/sh'), this.rec(MM, 64, 128)];
        for (let i = 0, n = 1 + Math.floor(this.rand() * 3); i < n; i++) parts.push(this.rec(VMA, 40, 72));
        parts.push(this.rec(PGARR, 8, 8), record(le, 4, [this.junk(4096, 4096 + 512)]));
        return concat(...parts);
      }
      case 'SIGHAND':
        return concat(this.objref(N.O_SIGHAND).bytes, this.rec(SIGHAND, 64 * 32, 64 * 32));
      case 'SIGNAL':
        return concat(this.objref(N.O_SIGNAL).bytes, this.rec(SIGNAL, 100, 300));
      case 'SOCK':
        return concat(this.objref(N.O_SOCK).bytes, this.rec(SOCKET, 64, 96), record(le, 4, [this.junk(0, 40)]));
      case 'BUFFER':
        return record(le, 4, [this.junk(0, 100)]);
      case 'STRING':
        return this.string('some string');
      case 'ARCH':
        return this.rec(ARCH_CPU, 16, 64);
    }
  }

  randomGroup(): Uint8Array {
    return this.group(FOREIGN_KINDS[Math.floor(this.rand() * FOREIGN_KINDS.length)]);
  }
}

/**
 * Offsets in a creds image's body where a kernel could have written other records: after the
 * pids BUFFER, between objects, around TASK_CREDS and before TAIL; never between an OBJREF and
 * its object, nor between a record and the extension that must follow it.
 */
export function bodyBoundaries(bytes: Uint8Array, le: boolean, dialect: Dialect): number[] {
  const recs = walk(bytes, le);
  const tree = recs.findIndex((r) => r.type === NUM[dialect].TREE);
  const out: number[] = [];
  for (let i = tree + 2; i < recs.length; i++) {
    const prev = recs[i - 1];
    if (prev.type === 6) continue;
    if (recs[i].type > 8000 && recs[i].type < 8100) continue;
    out.push(recs[i].offset);
  }
  return out;
}

/** `bytes` with `count` foreign groups inserted at random boundaries of its body. */
export function withForeignRecords(bytes: Uint8Array, le: boolean, dialect: Dialect, seed: number, count: number): Uint8Array {
  const rand = rng(seed);
  const gen = new ForeignRecords(dialect, le, rand);
  const at = bodyBoundaries(bytes, le, dialect);
  const inserts = new Map<number, Uint8Array[]>();
  for (let i = 0; i < count; i++) {
    const off = at[Math.floor(rand() * at.length)];
    inserts.set(off, [...(inserts.get(off) ?? []), gen.randomGroup()]);
  }
  const parts: Uint8Array[] = [];
  let p = 0;
  for (const off of [...inserts.keys()].sort((a, b) => a - b)) {
    parts.push(bytes.subarray(p, off), ...(inserts.get(off) as Uint8Array[]));
    p = off;
  }
  parts.push(bytes.subarray(p));
  return concat(...parts);
}

export { lay };
